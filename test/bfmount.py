# SPDX-License-Identifier: GPL-2.0-or-later
"""For the Python tests: a private tmpfs in WORK/back, served by bpfused at
WORK/mnt; with opts None, no bpfused, and mnt is back (a reference)."""
import os
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BPFUSED = os.path.join(TOP, "bpfused")


class Mount:
    def __init__(self, work, opts, name="bpfuse-test"):
        self.back = work + "/back"
        os.makedirs(self.back)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", name, self.back], check=True)
        self.proc = None
        self.mnt = self.back
        if opts is None:
            return
        self.mnt = work + "/mnt"
        os.makedirs(self.mnt)
        self.log = open(work + "/log", "w")
        self.proc = subprocess.Popen([BPFUSED, "-f"] + (["-o", opts] if opts else [])
                                     + [self.back, self.mnt], stderr=self.log)
        for _ in range(200):
            if os.path.ismount(self.mnt):
                return
            time.sleep(0.05)
        self.close()
        raise RuntimeError("bpfused did not mount")

    def close(self):
        if self.proc:
            subprocess.run(["umount", "-l", self.mnt])
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        subprocess.run(["umount", "-l", self.back])
