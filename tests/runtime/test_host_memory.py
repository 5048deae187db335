"""convnet.runtime.host_memory: the memory available, from /proc/meminfo or the free pages."""

import io

from convnet.runtime import host_memory


def _meminfo(text):
    return lambda path, encoding=None: io.StringIO(text)


def _sysconf(values):
    def sysconf(name):
        if name not in values:
            raise ValueError(f"unrecognized configuration name {name}")
        return values[name]
    return sysconf


def test_available_bytes_is_memavailable_else_the_free_pages(monkeypatch):
    monkeypatch.setattr(host_memory.os, "sysconf", _sysconf({"SC_AVPHYS_PAGES": 10,
                                                             "SC_PAGE_SIZE": 4096}))
    monkeypatch.setattr(host_memory, "open", _meminfo("MemTotal:  8000 kB\nMemFree:  100 kB\n"
                                                      "MemAvailable:   2048 kB\n"),
                        raising=False)
    assert host_memory.available_bytes() == 2048 * 1024
    monkeypatch.setattr(host_memory, "open", _meminfo("MemTotal:  8000 kB\n"))  # an old kernel
    assert host_memory.available_bytes() == 10 * 4096

    def no_proc(path, encoding=None):
        raise FileNotFoundError(path)

    monkeypatch.setattr(host_memory, "open", no_proc)  # not Linux
    assert host_memory.available_bytes() == 10 * 4096
    monkeypatch.setattr(host_memory.os, "sysconf", _sysconf({}))
    assert host_memory.available_bytes() is None
