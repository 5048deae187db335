"""Timestamped lines on stdout, in the tutorial's format (`2016-...: step 120, loss = ...`)."""

import datetime


def log(message: str) -> None:
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S}: {message}", flush=True)
