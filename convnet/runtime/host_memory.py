"""How much memory this machine has free: `available_bytes()`, for the choices that depend on
it (--cache=auto, a folder decoded into memory or streamed, the batch size check)."""

import os


def available_bytes() -> int | None:
    """Memory available to a new allocation without swapping, or None when unknown.

    Linux: MemAvailable of /proc/meminfo; elsewhere the free physical pages
    (`os.sysconf('SC_AVPHYS_PAGES')`), a smaller figure (caches count as used).
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the kernel's kB are KiB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
