"""Sampling profiles of running service processes, for the benchmarks: py-spy attached by pid
(`pip install -e .[bench]`), so the processes run as they always do, and every green thread's
stack is seen (an eventlet process is one OS thread; py-spy samples whatever runs on it, where
cProfile and pyinstrument see only the greenlet they were started in).

    with Sampled({"gateway": pid, "authz": pid}, folder) as sampled:
        ...  # the load
    print(sampled.report(PARTS))

`report` reads py-spy's collapsed stacks and says, per process, which share of its busy samples
fell inside each part (a part: a name and the substrings of a frame that put a sample in it; the
first part of the list any of whose frames is anywhere on the sample's stack takes it).
"""
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path


class Sampled:
    def __init__(self, pids, folder, rate=250):
        self.pids, self.folder, self.rate = pids, Path(folder), rate
        self._procs = {}

    def __enter__(self):
        spy = shutil.which("py-spy") or str(Path(os.sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            raise SystemExit("--profile needs py-spy: pip install -e '.[bench]'")
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            self._procs[name] = subprocess.Popen(
                [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", str(self.rate), "--nonblocking",
                 "--nolineno", "--output", str(self.folder / f"{name}.folded")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        for proc in self._procs.values():
            proc.send_signal(2)  # py-spy writes its file on SIGINT
        for proc in self._procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def stacks(self, name):
        """Counter of stack (tuple of frames, root first) -> samples."""
        path = self.folder / f"{name}.folded"
        counts = Counter()
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                stack, _, n = line.rpartition(" ")
                if stack and n.isdigit():
                    counts[tuple(stack.split(";"))] += int(n)
        return counts

    def report(self, parts, per_call=None):
        """Lines: per process, its busy samples and the share of each part (and of what no part took)."""
        lines = []
        for name in self.pids:
            counts = self.stacks(name)
            total = sum(counts.values())
            if not total:
                lines.append(f"  {name}: no samples (py-spy could not attach?)")
                continue
            shares = Counter()
            for stack, n in counts.items():
                shares[classify(stack, parts)] += n
            head = f"  {name}: {total} busy samples at {self.rate}/s"
            if per_call:
                head += f" ({1000 * total / self.rate / per_call:.2f} ms sampled per check)"
            lines.append(head)
            for part, n in shares.most_common():
                lines.append(f"    {100 * n / total:5.1f}%  {part}")
        return "\n".join(lines)


def classify(stack, parts):
    for part, needles in parts:
        if any(needle in frame for frame in stack for needle in needles):
            return part
    return "other"


def top_frames(counts, n=25, skip=()):
    """The frames with the most samples on their stack (inclusive), for reading a profile by hand."""
    inclusive = Counter()
    for stack, k in counts.items():
        for frame in set(stack):
            if not any(s in frame for s in skip):
                inclusive[frame] += k
    return inclusive.most_common(n)
