"""The benchmark's /proc meter: it sees a process tree's CPU and memory, and nothing outside the tree."""

import os
import subprocess
import sys
import time

from churn_tools.bench import proc

# Burns `seconds` of CPU, prints what the kernel counted for itself, then stays alive so the meter's last
# sample (taken while it lives) holds all of it.
BUSY = """
import os, sys, time
end = time.process_time() + float(sys.argv[1])
while time.process_time() < end:
    pass
times = os.times()
print(times.user + times.system, flush=True)
time.sleep(1.0)
"""


def test_scan_reads_this_process_its_parent_and_memory():
    table = proc.scan()
    own = table[os.getpid()]
    assert (own.pid, own.parent) == (os.getpid(), os.getppid())
    assert own.command.startswith("python")
    assert own.rss_bytes > 10 * proc.MIB


def test_the_meter_counts_the_cpu_of_its_tree_and_not_of_a_process_outside_it():
    under = subprocess.Popen([sys.executable, "-c", BUSY, "0.8"], stdout=subprocess.PIPE, text=True)
    outside = subprocess.Popen([sys.executable, "-c", BUSY, "1.5"], stdout=subprocess.DEVNULL)
    try:
        meter = proc.TreeMeter(under.pid, interval=0.1)
        counted_by_itself = float(under.stdout.readline())
        time.sleep(0.3)  # a sample after the work, while the process lives
        metered = meter.stop()
    finally:
        under.wait()
        outside.wait()
    # What the meter saw of `under` is what it counted itself, less the start-up before the meter began; the
    # upper bound leaves out the 1.5 s of `outside`.
    assert counted_by_itself - 0.3 <= metered <= counted_by_itself + 0.05
    assert metered >= 0.5  # it saw the work itself, not only the start-up
    assert meter.peak_rss_mb()["total"] == 0  # no JVM and no Spark worker in this tree
