#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/run.sh's helpers and its report.

  report.py fio JOB.json          a fio job's figures: "METRIC VALUE UNIT" lines
  report.py render DIR            DIR/results.tsv (and info.tsv) -> DIR/results.md
                                  and DIR/*.png (gnuplot)

Every ratio in the report is to "native", measured in the same run (and for
the guest's rows, in the same boot), but the miss workload's: those are to
MISS_REF, the yardstick bpfused's configurations there are held to.
"""
import csv
import json
import os
import subprocess
import sys

OPS = ["stat", "stat-missing", "getxattr", "getxattr-absent", "open-close", "readdir"]
# the miss workload's operations (bench/run.sh's miss_ops)
MISS_OPS = ["stat", "stat-missing", "getxattr", "open-close", "readdir", "create-unlink"]
# The miss workload's yardstick: with every timeout 0 and the maps off,
# bpfused is to be at most as slow, operation by operation, as libfuse's own
# passthrough_ll over io_uring (its ratios are to this; native when absent).
MISS_REF = "ptll-uring"


def read_configs():
    """bench/configs.tsv, where the configurations are declared."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs.tsv")
    with open(path) as f:
        lines = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


CONFIGS = read_configs()
# the report's columns, in the order declared; a workload shows those it ran
ORDER = [c["name"] for c in CONFIGS]
LAT = ["native"] + [c + "+1ms" for c in ORDER]
SSHFS = ["native", "sshfs"] + ["sshfs+" + c for c in ORDER]
HOST_SET = [c["name"] for c in CONFIGS if "host" in c["sets"].split()]
NAMES = {c["name"]: c["label"] for c in CONFIGS}
DAEMONS = {c["name"]: c["daemon"] for c in CONFIGS}


def name(cfg):
    if cfg.endswith("+1ms"):
        return NAMES[cfg[:-4]] + " +1ms"
    if cfg.startswith("sshfs+"):
        return NAMES[cfg[6:]] + " over sshfs"
    return NAMES.get(cfg, cfg)


# ---- fio ----------------------------------------------------------------

def fio(path):
    job = json.load(open(path))["jobs"][0]
    name = job["jobname"]
    if job.get("error"):
        sys.exit(f"fio job {name} failed: error {job['error']}")
    if name == "filecreate":
        # filecreate counts each file as one I/O of the job's direction
        rate = max(job["read"]["iops"], job["write"]["iops"])
        if rate <= 0:
            sys.exit("fio filecreate: no files created")
        print(f"create {rate:.0f} files/s")
        return
    for d in ("read", "write"):
        if job[d]["io_bytes"]:
            print(f"{d} {job[d]['bw'] / 1024:.1f} MiB/s")
    if not (job["read"]["io_bytes"] or job["write"]["io_bytes"]):
        sys.exit(f"fio job {name}: no I/O")


# ---- the report ---------------------------------------------------------------

class Results:
    def __init__(self, d):
        with open(os.path.join(d, "results.tsv")) as f:
            self.rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        self.info = {}
        try:
            with open(os.path.join(d, "info.tsv")) as f:
                for line in f:
                    k, _, v = line.rstrip("\n").partition("\t")
                    self.info[k] = v
        except FileNotFoundError:
            pass
        self.v = {}
        self.text = {}  # values that are words, such as a mount's transport
        self.failed = {}
        for r in self.rows:
            if r["metric"] == "status":
                self.failed[(r["workload"], r["config"])] = r["unit"]
                continue
            key = (r["workload"], r["config"], r["case"], r["metric"])
            try:
                self.v[key] = float(r["value"])
            except ValueError:
                self.text[key] = r["value"]

    def get(self, wl, cfg, case, metric):
        return self.v.get((wl, cfg, case, metric))

    def word(self, wl, cfg, case, metric):
        return self.text.get((wl, cfg, case, metric))

    def why_missing(self, wl, cfg):
        why = self.failed.get((wl, cfg)) or self.failed.get((wl, "all")) or \
            self.failed.get((wl, "vm"))
        return f"failed: {why}" if why else "–"

    def has(self, wl):
        return any(r["workload"] == wl for r in self.rows)

    def configs(self, wl, order):
        seen = {r["config"] for r in self.rows if r["workload"] == wl}
        return [c for c in order if c in seen]

    def where(self, wl):
        """Commit, kernel and machine of a workload's rows."""
        seen = []
        for r in self.rows:
            if r["workload"] == wl:
                m = (r["commit"], r["kernel"], r["cpu"], r["cores"], r["ram"])
                if m not in seen:
                    seen.append(m)
        return "; ".join(f"commit `{c}`, Linux {k}, {cpu}, {n} cores, {ram}"
                         for c, k, cpu, n, ram in seen)

    def op_total(self, wl, cfg, cases, op):
        """Requests of opcode op over the given cases (None if not counted)."""
        if self.get(wl, cfg, cases[0], "req") is None:
            return None
        return sum(self.get(wl, cfg, c, "op:" + op) or 0 for c in cases)


def us(v):
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def times(x):
    return f"{x:.2f}×" if x < 10 else f"{x:.0f}×"


def ratio(v, ref):
    if v is None or not ref:
        return ""
    return f" ({times(v / ref)})"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def meta_tables(R, wl, cfgs, ref="native", extra_ref=None, ops=OPS):
    """us per op (x ref) and requests per op, op by op: warm, spaced (where
    measured: after some seconds idle) and cold."""
    if not cfgs:
        return "No figures (see Failed above).\n"
    states = [st for st in ("warm", "spaced", "cold")
              if any(R.get(wl, c, f"{op}/{st}", "us") is not None for c in cfgs for op in ops)]
    cases = [(op, st) for op in ops for st in states]
    rows = []
    for op, st in cases:
        c = f"{op}/{st}"
        base = R.get(wl, ref, c, "us")
        cells = [f"{op}, {st}"]
        for cfg in cfgs:
            v = R.get(wl, cfg, c, "us")
            if v is None:
                cells.append(R.why_missing(wl, cfg))
                continue
            cell = us(v) + ("" if cfg == ref else ratio(v, base))
            if extra_ref and cfg not in (ref, extra_ref):
                e = R.get(wl, extra_ref, c, "us")
                cell += f" ({v / e:.2f}× {name(extra_ref)})" if e else ""
            cells.append(cell)
        rows.append(cells)
    text = table(["µs per operation"] + [name(c) for c in cfgs], rows)
    counted = [c for c in cfgs if any(R.get(wl, c, f"{o}/{s}", "req") is not None
                                      for o, s in cases)]
    if not counted:
        return text
    rows = []
    show_hits = any(R.get(wl, c, f"{o}/{s}", "khit") for c in counted for o, s in cases)
    for op, st in cases:
        c = f"{op}/{st}"
        cells = [f"{op}, {st}"]
        for cfg in counted:
            v = R.get(wl, cfg, c, "req")
            if v is None:
                cells.append(R.why_missing(wl, cfg))
                continue
            cell = f"{v:.2f}"
            b = R.get(wl, cfg, c, "backend")
            if b is not None:
                cell += f" / {b:.2f}"
            if show_hits:
                cell += f" / {R.get(wl, cfg, c, 'khit') or 0:.2f}"
            cells.append(cell)
        rows.append(cells)
    what = "to the daemon / to the backend" + (" / answered in the kernel" if show_hits else "")
    text += "\nRequests per operation (" + what + "):\n\n"
    text += table(["requests per operation"] + [name(c) for c in counted], rows)
    return text


# ---- charts ----------------------------------------------------------------

def chart(d, fname, title, ylabel, cats, series, value, log=False, hline=None):
    """A clustered bar chart: one cluster per category, one bar per series."""
    dat = os.path.join(d, "raw", fname + ".dat")
    with open(dat, "w") as f:
        f.write('"" ' + " ".join(f'"{name(s)}"' for s in series) + "\n")
        for c in cats:
            vals = [value(c, s) for s in series]
            f.write(f'"{c}" ' + " ".join("?" if v is None else f"{v:g}" for v in vals) + "\n")
    gp = [
        "set terminal pngcairo size 1000,520 font ',10' noenhanced",
        f"set output '{os.path.join(d, fname + '.png')}'",
        f"set title \"{title}\"",
        f"set ylabel \"{ylabel}\"",
        "set datafile missing '?'",
        "set style data histogram",
        "set style histogram cluster gap 1",
        "set style fill solid 0.85 border -1",
        "set boxwidth 0.9",
        "set key outside right top",
        "set offsets 0, 0, graph 0.05, 0",
        "set grid ytics",
        "set xtics nomirror",
    ]
    if log:
        gp.append("set logscale y")
    else:
        gp.append("set yrange [0:*]")
    plot = f"plot for [i=2:{len(series) + 1}] '{dat}' using i:xtic(1) title columnheader(i)"
    if hline is not None:
        # a dashed line at the reference, which also keeps it in the y range
        plot += f", {hline} with lines dt 2 lw 1.5 lc rgb 'black' title '{hline}× native'"
    gp.append(plot)
    subprocess.run(["gnuplot"], input="\n".join(gp) + "\n", text=True, check=True)
    return f"![{title}]({fname}.png)\n"


def meta_chart(R, d, wl, fname, title, cfgs, state="warm", ops=OPS):
    def v(op, cfg):
        return R.get(wl, cfg, f"{op}/{state}", "us")
    if not any(v(op, c) for op in ops for c in cfgs):
        return ""
    return chart(d, fname, title, "µs per operation (log scale)", ops, cfgs, v, log=True)


# ---- sections --------------------------------------------------------------

# how the net workload composes the configurations
COMPOSED = [
    ["X +1ms", "X with `-o backend_latency=1ms`: each metadata call into the backing directory "
     "waits 1 ms, like a network file system"],
    ["X over sshfs", "bpfused X with that sshfs mount as its backing directory"],
    ["spaced", "(net workload) one more pass after a few seconds idle: longer than 1 s "
     "lifetimes, shorter than sshfs's own 20 s"],
]


def configs_table():
    rows = [[c["label"], c["what"]] for c in CONFIGS] + COMPOSED
    return table(["configuration", "what it is"], rows)


def standing(R):
    """Where we are against the goals, computed from this run."""
    out = ["## Where we stand\n",
           "Reference points, not our results: ExtFUSE's build workload ran 21.9% over "
           "ext4 with its metadata cache, and 8.8% over with pass-through on top; its "
           "cache cut the lookups reaching the daemon by 75%, getattr by 99% and getxattr "
           "by 100%. bpfuse's goals: the build within 3% of native, warm metadata "
           "operations within 1.5× native with full coherence, in ext mode.\n"]
    nat = R.get("build", "native", "-", "wall")
    if nat:
        parts = []
        for cfg in HOST_SET:
            if cfg == "native":
                continue
            v = R.get("build", cfg, "-", "wall")
            parts.append(f"{name(cfg)} {100 * (v / nat - 1):+.1f}%" if v else
                         f"{name(cfg)} {R.why_missing('build', cfg)}")
        v = R.get("build", "default", "-", "wall")
        verdict = ("not measured" if not v else
                   "met" if v / nat <= 1.03 else "not met")
        out.append(f"- **Build** (over native {nat:.0f} s): {', '.join(parts)}. Goal "
                   f"(within 3%) with default options: {verdict}. The build was not run in ext "
                   "mode: the guest runs under TCG, where a build would take hours.")
    else:
        out.append("- **Build**: not measured in this run.")
    if R.has("ext"):
        for cfg, goal, what in (("ext", 1.2, "defaults"),
                                ("ext-t0", 2.0, "every timeout 0, so fully coherent")):
            ratios, ok = [], 0
            for op in ("stat", "stat-missing", "getxattr", "open-close", "readdir"):
                n, e = (R.get("ext", c, f"{op}/warm", "us") for c in ("native", cfg))
                if n and e:
                    ratios.append(f"{op} {times(e / n)}")
                    ok += e / n <= goal
            out.append(f"- **Warm metadata, ext mode, {what}** (6.12 guest, median of the "
                       f"passes): {', '.join(ratios) or 'no figures'}; within {goal}×: "
                       f"{ok} of {len(ratios)}.")
        io = []
        for job in ("seqread", "randrw"):
            n = R.get("ext", "native", job, "bw")
            io += [f"{job} {name(c)} {R.get('ext', c, job, 'bw') / n:.2f}×" for c in ORDER
                   if c != "native" and n and R.get("ext", c, job, "bw")]
        if io:
            out.append(f"- **File data in the guest** (MiB/s against native): {', '.join(io)}.")
        stats = []
        for case in [f"{op}/warm" for op in OPS] + ["seqread", "randrw"]:
            unit = "us" if "/" in case else "bw"
            a, d = (R.get("ext", c, case, unit) for c in ("ext", "ext-nostats"))
            if a and d:
                stats.append(f"{case} {a / d if unit == 'us' else d / a:.2f}")
        if stats:
            out.append("- **Statistics programs**, ext with them against ext without (time "
                       f"ratio; above 1: they cost): {', '.join(stats)}.")
        cases = [f"{op}/warm" for op in OPS]
        cuts = []
        for op in ("lookup", "getattr", "getxattr", "open", "flush", "release"):
            s, e = (R.op_total("ext", c, cases, op) for c in ("stock", "ext-t0"))
            if s:
                cuts.append(f"{op} {100 * (1 - (e or 0) / s):.1f}% ({s:.0f} → {e or 0:.0f})")
        if cuts:
            out.append("- **Requests reaching the daemon**, ext-t0 against stock mode (both "
                       "with every timeout 0), all warm metadata passes in the guest: "
                       f"{', '.join(cuts)} fewer (ExtFUSE: lookup 75%, getattr 99%, getxattr "
                       "100%).")
    else:
        out.append("- **Ext mode**: not measured in this run.")
    for cfg, what in (("default", "default options on the host (watched: the kernel's "
                                  "caches live until the watcher invalidates them)"),
                      ("stock", "stock mode on the host (every timeout 0, the maps answer "
                                "in the daemon, every access still an upcall)")):
        host = []
        for op in OPS:
            n, s = (R.get("meta", c, f"{op}/warm", "us") for c in ("native", cfg))
            if n and s:
                host.append(f"{op} {times(s / n)}")
        if host:
            out.append(f"- **Warm metadata, {what}**: {', '.join(host)}.")
    if R.has("miss"):
        ref = miss_ref(R)
        for cfg in R.configs("miss", ORDER):
            if DAEMONS.get(cfg) != "bpfused":
                continue
            ratios, per_req, ok = [], [], 0
            for op in MISS_OPS:
                v, r = (R.get("miss", c, f"{op}/warm", "us") for c in (cfg, ref))
                if v and r:
                    ratios.append(f"{op} {times(v / r)}")
                    ok += v <= r
                # what one request costs each: µs per operation over requests per operation
                q, qr = (R.get("miss", c, f"{op}/warm", "req") for c in (cfg, ref))
                if v and r and q and qr:
                    per_req.append(f"{op} {v / q:.1f} against {r / qr:.1f} "
                                   f"({q:.0f} against {qr:.0f} requests)")
            out.append(f"- **Misses, {name(cfg)}** (every timeout 0, the maps off; against "
                       f"{name(ref)}): {', '.join(ratios) or R.why_missing('miss', cfg)}; "
                       f"at most as slow: {ok} of {len(ratios)} operations."
                       + (f" µs per request: {'; '.join(per_req)}." if per_req else ""))
    for job, metric, label in (("seqread", "read", "sequential read"),
                               ("randrw", "read", "random 4 KiB read+write (reads)")):
        n = R.get("fio", "native", job, metric)
        parts = [f"{name(c)} {R.get('fio', c, job, metric) / n:.2f}×"
                 for c in ("default", "passthrough", "pthp")
                 if n and R.get("fio", c, job, metric)]
        if parts:
            out.append(f"- **fio {label}**, × native: {', '.join(parts)}.")
    return "\n".join(out) + "\n"


def section_meta(R, d):
    cfgs = R.configs("meta", ORDER)
    return (f"## Metadata\n\n{R.where('meta')}. Tree: {R.info.get('size_meta', '?')}.\n"
            "Each kind of operation runs on a fresh mount after `drop_caches`: one cold pass, "
            "then the warm passes. Requests are the deltas of `bpfusectl stats` around each pass "
            "(bpfused's mounts only).\n\n"
            + meta_tables(R, "meta", cfgs) + "\n"
            + meta_chart(R, d, "meta", "meta-warm", "Metadata, warm", cfgs)
            + meta_chart(R, d, "meta", "meta-cold", "Metadata, cold", cfgs, "cold"))


def miss_ref(R):
    """The miss workload's yardstick, if this run measured it."""
    return MISS_REF if R.get("miss", MISS_REF, "stat/warm", "us") is not None else "native"


def section_miss(R, d):
    cfgs = R.configs("miss", ORDER)
    ref = miss_ref(R)
    served = [f"{name(c)}: {R.word('miss', c, '-', 'transport')}" for c in cfgs
              if R.word("miss", c, "-", "transport")]
    return (f"## Misses\n\n{R.where('miss')}. Tree: {R.info.get('size_miss', '?')}.\n"
            "Every kernel timeout 0 and bpfused's maps off, so that every operation reaches "
            "the daemon (the configurations table says how each turns its caches off). Each "
            "configuration serves a tree of its own on a tmpfs of its own, all mounted at "
            "once; each pass is one mdbench run taking them a directory at a time (`-a`), "
            "each configuration's figure the median directory's time per call (`-m`). "
            f"Ratios are to {name(ref)}, measured in the same passes. "
            + (f"Served over, as checked after mounting: {'; '.join(served)}. " if served else "")
            + "Requests are the deltas of `bpfusectl stats` around the passes, for the "
            "other daemons' mounts too (bpfusectl counts any FUSE mount's), so that what "
            "a request costs each can be read off: µs per operation over requests per "
            "operation.\n\n"
            + meta_tables(R, "miss", cfgs, ref=ref, ops=MISS_OPS) + "\n"
            + meta_chart(R, d, "miss", "miss", "Misses: every timeout 0, the maps off", cfgs,
                         ops=MISS_OPS))


def section_scale(R, d):
    cfgs = R.configs("scale", ORDER)
    return (f"## A large tree\n\n{R.where('scale')}. Tree: {R.info.get('size_scale', '?')}: "
            "`stat` of every file on a fresh mount after `drop_caches` (cold), then "
            "warm passes, which outlast the old 1 s timeouts and the maps' old fixed "
            "size.\n\n" + meta_tables(R, "scale", cfgs, ops=["stat"]))


def section_build(R, d):
    cfgs = R.configs("build", ORDER)
    nat = R.get("build", "native", "-", "wall")
    ops = {}
    for r in R.rows:
        if r["workload"] == "build" and r["metric"].startswith("op:"):
            op = r["metric"][3:]
            ops[op] = max(ops.get(op, 0), float(r["value"]))
    top = sorted(ops, key=lambda o: -ops[o])[:9]
    if not cfgs:
        return "## Kernel build\n\nNo figures (see Failed above).\n"
    rows = []
    for cfg in cfgs:
        v = R.get("build", cfg, "-", "wall")
        if v is None:
            rows.append([name(cfg), R.why_missing("build", cfg)] + [""] * (2 + len(top)))
            continue
        req = R.get("build", cfg, "-", "req")
        rows.append([name(cfg), f"{v:.1f}", f"{v / nat:.3f}× ({100 * (v / nat - 1):+.1f}%)"
                     if nat else "", "–" if req is None else f"{req:.0f}"] +
                    ["–" if req is None else f"{R.get('build', cfg, '-', 'op:' + o) or 0:.0f}"
                     for o in top])
    text = (f"## Kernel build\n\n{R.where('build')}. `make tinyconfig && make -j4` of "
            f"linux-source-6.1 ({R.info.get('size_build', '?')}) with the source tree on the "
            "mount; requests that reached the "
            "daemon, in all and for the commonest opcodes.\n\n"
            + table(["configuration", "wall s", "× native", "requests"] + top, rows) + "\n")
    return text + chart(d, "build", "Kernel build, wall time", "seconds", ["build"], cfgs,
                        lambda c, s: R.get("build", s, "-", "wall"))


FIO = [("seqread", "read", "sequential read"), ("randrw", "read", "random 4 KiB, read"),
       ("randrw", "write", "random 4 KiB, write"), ("filecreate", "create", "file creation")]


def section_fio(R, d):
    cfgs = R.configs("fio", ORDER)
    if not cfgs:
        return "## fio\n\nNo figures (see Failed above).\n"
    rows = []
    for job, metric, label in FIO:
        base = R.get("fio", "native", job, metric)
        cells = [label]
        for cfg in cfgs:
            v = R.get("fio", cfg, job, metric)
            unit = "files/s" if metric == "create" else "MiB/s"
            cells.append(R.why_missing("fio", cfg) if v is None else
                         f"{v:.0f} {unit}" + ("" if cfg == "native" else ratio(v, base)))
        rows.append(cells)
    text = (f"## fio\n\n{R.where('fio')}. Buffered I/O (`bench/fio/*.fio`): "
            f"{R.info.get('size_fio', '?')}; sequential reads drop the file's pages before "
            "each pass.\n\n"
            + table(["job"] + [name(c) for c in cfgs], rows) + "\n")

    def v(label, cfg):
        job, metric = next((j, m) for j, m, lab in FIO if lab == label)
        x, n = R.get("fio", cfg, job, metric), R.get("fio", "native", job, metric)
        return x / n if x is not None and n else None
    return text + chart(d, "fio", "fio, relative to native", "× native (higher is better)",
                        [lab for _, _, lab in FIO], [c for c in cfgs if c != "native"], v,
                        hline=1)


def section_net(R, d):
    lat, ssh = R.configs("net", LAT), R.configs("net", SSHFS)
    text = (f"## Network backends\n\n{R.where('net')}.\n\n### A 1 ms backend\n\n"
            f"The metadata benchmark ({R.info.get('size_net', '?')}) with every metadata call "
            "into the backing directory delayed by 1 ms.\n\n"
            + meta_tables(R, "net", lat) + "\n"
            + meta_chart(R, d, "net", "net-1ms", "Metadata over a 1 ms backend, warm", lat))
    if len(ssh) > 1:
        text += ("\n### sshfs\n\nsshfs alone, and bpfused with sshfs as its backing directory; "
                 "ratios to native and to sshfs alone.\n\n"
                 + meta_tables(R, "net", ssh, extra_ref="sshfs") + "\n"
                 + meta_chart(R, d, "net", "sshfs", "Metadata over sshfs, warm", ssh))
    return text


def fio_guest_table(R, cfgs):
    if not any(R.get("ext", c, j, "bw") for c in cfgs for j in ("seqread", "randrw")):
        return ""
    rows = []
    for job, what in (("seqread", "sequential read"), ("randrw", "random 4 KiB read+write")):
        n = R.get("ext", "native", job, "bw")
        cells = [what]
        for cfg in cfgs:
            v = R.get("ext", cfg, job, "bw")
            cells.append(R.why_missing("ext", cfg) if v is None else
                         f"{v:.1f}" + ("" if cfg == "native" or not n else f" ({v / n:.2f}×)"))
        rows.append(cells)
    return "\n" + table(["MiB/s (median)"] + [name(c) for c in cfgs], rows)


def section_ext(R, d):
    cfgs = R.configs("ext", ORDER)
    return (f"## Ext mode, Linux 6.12 guest\n\n{R.where('ext')} (qemu TCG: absolute times are "
            f"slow, ratios are what count). {R.info.get('size_ext', '?')}. Native tmpfs, stock "
            "mode (`-o no_ext`, every kernel timeout 0), ext mode with the defaults "
            "(kernel passthrough on: the extension answers read-only opens) and ext mode "
            "with every kernel timeout 0 (ExtFUSE's setting), in one boot, all mounted at once "
            "over the same tree and their passes interleaved (pass i of each before pass i+1 "
            "of any: TCG's speed drifts over minutes); the xattr is "
            "`trusted.tag`. Requests are counted where they end, which a request answered "
            "in the kernel never reaches.\n\n"
            + meta_tables(R, "ext", cfgs) + fio_guest_table(R, cfgs) + "\n"
            + meta_chart(R, d, "ext", "ext-warm", "Metadata in the 6.12 guest, warm", cfgs)
            + meta_chart(R, d, "ext", "ext-cold", "Metadata in the 6.12 guest, cold", cfgs,
                         "cold"))


def render(d):
    R = Results(d)
    i = R.info
    parts = [f"# bpfuse benchmarks, {i.get('date', '')}\n",
             f"Commit `{i.get('commit', '?')}`, {i.get('mode', '?')} run "
             f"({i.get('seconds', '?')} s: "
             + ", ".join(f"{w} {i.get('seconds_' + w, '?')} s" for w in
                         i.get("workloads", "").split()) + "). "
             "Every row of `results.tsv` carries the commit, kernel and machine it was "
             "measured on; each section names them. Ratios are to native in the same run."
             + (f" FUSE over io_uring (the kernel's switch): {i['uring']}." if "uring" in i else "")
             + "\n",
             configs_table()]
    if i.get("mode") == "quick":
        parts.append("**Quick run** (tiny sizes, for the smoke test): the figures mean "
                     "nothing.\n")
    parts.append(standing(R))
    failed = sorted({f"{w}/{c}: {why}" for (w, c), why in R.failed.items()})
    if failed:
        parts.append("**Failed**:\n\n" + "\n".join(f"- {f}" for f in failed) + "\n")
    for wl, fn in (("meta", section_meta), ("miss", section_miss), ("scale", section_scale),
                   ("build", section_build), ("fio", section_fio),
                   ("net", section_net), ("ext", section_ext)):
        if R.has(wl):
            parts.append(fn(R, d))
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write("\n".join(parts))


def main(argv):
    if len(argv) == 3 and argv[1] == "fio":
        fio(argv[2])
    elif len(argv) == 3 and argv[1] == "render":
        render(argv[2])
    else:
        sys.exit("usage: report.py fio JOB.json | render DIR")


if __name__ == "__main__":
    main(sys.argv)
