"""Progress of a long run: a bar with rate and ETA on a terminal, plain lines otherwise."""
import sys
import time

PLAIN_EVERY = 5.0  # seconds between plain progress lines


class Progress:
    """`with Progress("replay", total) as p: p.update(n)`; `total` may be None (unknown)."""

    def __init__(self, what, total=None, out=None, unit="events"):
        self.what, self.total, self.unit = what, total, unit
        self.out = out or sys.stdout
        self.done = 0
        self._bar = None
        self._started = self._last_line = time.monotonic()

    def __enter__(self):
        if self.out.isatty():
            from tqdm import tqdm
            self._bar = tqdm(total=self.total, desc=self.what, unit=" " + self.unit, file=self.out,
                             dynamic_ncols=True)
        return self

    def update(self, n=1):
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif time.monotonic() - self._last_line >= PLAIN_EVERY:
            self._last_line = time.monotonic()
            self._line()

    def set_total(self, total):
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def _line(self, final=False):
        elapsed = max(time.monotonic() - self._started, 1e-9)
        of = f"/{self.total}" if self.total is not None else ""
        state = "done" if final else "progress"
        print(f"{self.what}: {state} {self.done}{of} {self.unit}, {self.done / elapsed:.0f}/s, "
              f"{elapsed:.1f}s", file=self.out, flush=True)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
        else:
            self._line(final=True)
        return False
