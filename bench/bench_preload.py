# SPDX-License-Identifier: GPL-2.0-or-later
# The preload seen from python3: time.monotonic() and time.time() per call,
# without and with LD_PRELOAD=PRELOAD, in the same run (bench/bench_vm.sh
# runs it in the QEMU guests, whose python3 has only what it needs to start:
# no site, no subprocess, so this uses os alone). RUNS children each way,
# alternating, each the median of SAMPLES batches of BATCH calls; the
# figures are the medians of the children's. Before and after the timed
# children, one with TIMEKEEPER_PRELOAD_STATS=FILE makes VERIFY calls of
# each: the preload appends its counters to FILE at exit and every reading
# must have come from the page (else the ratio times the kernel through the
# preload, and this exits 1). The batches are timed with time.monotonic_ns()
# (the page's clock in the preloaded children). Lines:
#   bench: preload_python_<clock>_ns N ns LABEL (and kernel_python_...)
#   bench: preload_python_ratio R ratio LABEL (time.monotonic())
#
#   python3 -S bench_preload.py PRELOAD LABEL [SAMPLES]
import os
import sys
import time

RUNS = 5
BATCH = 100
VERIFY = 2000


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def child(samples):
    now = time.monotonic_ns
    out = []
    for fn in (time.monotonic, time.time):
        per = []
        for _ in range(samples):
            t0 = now()
            for _ in range(BATCH):
                fn()
            per.append((now() - t0) / BATCH)
        out.append(median(per))
    print("%.3f %.3f" % tuple(out))


def spawn(args, env):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 1)
        os.execve(sys.executable, [sys.executable, "-S", __file__] + args, env)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        sys.exit("bench_preload.py: a child exited with status %d" % status)
    return data.decode()


def check_page(preload, label, when):
    stats = "/tmp/tk-preload-py.%d" % os.getpid()
    try:
        os.unlink(stats)
    except FileNotFoundError:
        pass
    env = dict(os.environ, LD_PRELOAD=preload, TIMEKEEPER_PRELOAD_STATS=stats)
    spawn(["--verify"], env)
    with open(stats) as f:
        fields = dict(x.split("=") for x in f.read().split()[1:])
    os.unlink(stats)
    page, kernel = int(fields["page"]), int(fields["kernel"])
    print("bench: preload_python_page_reads %d of %d calls %s (%s the timed runs; %d from "
          "the kernel)" % (page, 2 * VERIFY, label, when, kernel))
    if page < 2 * VERIFY or kernel != 0:
        sys.exit("bench_preload.py: %s the runs python3 read the kernel through the preload "
                 "(%d readings, %d from the page)" % (when, kernel, page))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        child(int(sys.argv[2]))
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--verify":
        for _ in range(VERIFY):
            time.monotonic()
            time.time()
        return
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python3 -S bench_preload.py PRELOAD LABEL [SAMPLES]")
    preload, label = sys.argv[1], sys.argv[2]
    samples = sys.argv[3] if len(sys.argv) == 4 else "200"
    plain = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD",
                                                            "TIMEKEEPER_PRELOAD_STATS")}
    pre = dict(plain, LD_PRELOAD=preload)
    check_page(preload, label, "before")
    k, p = [], []
    for _ in range(RUNS):
        k.append([float(x) for x in spawn(["--child", samples], plain).split()])
        p.append([float(x) for x in spawn(["--child", samples], pre).split()])
    check_page(preload, label, "after")
    res = {}
    for i, name in enumerate(("monotonic", "time")):
        res[name] = (median([x[i] for x in k]), median([x[i] for x in p]))
        print("bench: kernel_python_%s_ns %.1f ns %s" % (name, res[name][0], label))
        print("bench: preload_python_%s_ns %.1f ns %s" % (name, res[name][1], label))
    print("bench: preload_python_ratio %.3f ratio %s (time.monotonic() %.1f ns / %.1f ns; "
          "time.time() %.3f)" % (res["monotonic"][1] / res["monotonic"][0], label,
                                 res["monotonic"][1], res["monotonic"][0],
                                 res["time"][1] / res["time"][0]))


main()
