"""Shared pieces of the end-to-end tests: bm6-sim processes, a real collectd with bm6.so
and a configuration of the test's choosing, and waiting."""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("BM6_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
BM6_SO = os.path.join(BUILD, "plugin", "bm6.so")
BM6_SIM = os.path.join(BUILD, "tools", "bm6-sim")
COLLECTD = shutil.which("collectd") or "/usr/sbin/collectd"
COLLECTD_PLUGINS = "/usr/lib/collectd"
TYPES_DB = "/usr/share/collectd/types.db"
HOST = "e2e"


class Sim:
    """One bm6-sim process serving one device; can be killed, stopped and restarted."""

    def __init__(self, workdir, name, *args):
        self.path = os.path.join(workdir, name + ".sock")
        self.log_path = os.path.join(workdir, name + ".sim.log")
        self.args = [BM6_SIM, *args, "--socket", self.path]
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        # The socket appears once it accepts (bm6-sim renames it into place).
        deadline = time.time() + 10
        while not os.path.exists(self.path):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("bm6-sim did not create " + self.path)
            time.sleep(0.01)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=5)
            self.log.close()

    def events(self, what):
        with open(self.log_path) as f:
            return sum(1 for line in f if line.rstrip().endswith("central " + what))


class Collectd:
    def __init__(self, workdir, plugin_block, interval=1, plugins=(), extra_conf=""):
        self.workdir = workdir
        self.plugin_dir = os.path.join(workdir, "plugins")
        os.makedirs(self.plugin_dir, exist_ok=True)  # a restart reuses it
        # collectd loads plugins from one directory and refuses symlinks: copy.
        for p in ("csv", "logfile", *plugins):
            shutil.copy(os.path.join(COLLECTD_PLUGINS, p + ".so"), self.plugin_dir)
        shutil.copy(BM6_SO, self.plugin_dir)
        self.csv_dir = os.path.join(workdir, "csv")
        self.log_path = os.path.join(workdir, "collectd.log")
        conf = os.path.join(workdir, "collectd.conf")
        with open(conf, "w") as f:
            f.write(f"""
Hostname "{HOST}"
FQDNLookup false
Interval {interval}
BaseDir "{workdir}"
PIDFile "{workdir}/collectd.pid"
PluginDir "{self.plugin_dir}"
TypesDB "{TYPES_DB}"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "{self.log_path}"
  Timestamp true
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "{self.csv_dir}"
</Plugin>
LoadPlugin bm6
<Plugin bm6>
{plugin_block}
</Plugin>
{extra_conf}
""")
        self.proc = subprocess.Popen([COLLECTD, "-f", "-C", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.started = time.time()

    def stop(self):
        started = time.time()
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("collectd did not stop within 10 s")
        return self.proc.returncode, time.time() - started, err.decode(errors="replace")

    def rows(self, device, type_name):
        """(time, value) rows of one CSV series, over all its date files."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.csv_dir, HOST, "bm6-" + device,
                                                  type_name + "-*"))):
            with open(path) as f:
                for line in f:
                    if line.startswith("epoch"):
                        continue
                    t, v = line.strip().split(",")
                    out.append((float(t), float(v)))
        return out

    def log_lines(self, needle):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            return [line for line in f if needle in line]


def with_mgmt_shim(shim, capture, start):
    """start() (a Collectd, say) with tests/shim/mgmt_shim.cpp preloaded, replaying capture in
    place of the kernel's management socket; the environment is as before afterwards."""
    saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "BM6_SHIM_CAPTURE")}
    os.environ.update(LD_PRELOAD=shim, BM6_SHIM_CAPTURE=capture)
    try:
        return start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k)
            else:
                os.environ[k] = v


def wait_for(predicate, timeout, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()




def free_port(kind=socket.SOCK_STREAM):
    """A port on loopback that nothing uses right now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class E2ECase(unittest.TestCase):
    """Makes a work directory, starts simulators, and cleans up; keeps the directory of a
    failed test for inspection."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="bm6-e2e-")
        self.sims = []
        self.collectd = None
        self.servers = []

    def tearDown(self):
        if self.collectd and self.collectd.proc.poll() is None:
            self.collectd.proc.kill()
            self.collectd.proc.wait()
        for s in self.sims:
            s.stop()
        for p in self.servers:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if self._outcome_ok():
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            print(f"\nkept {self.workdir} for inspection", file=sys.stderr)

    def _outcome_ok(self):
        result = self._outcome.result
        return not any(t is self for t, _ in result.errors + result.failures)

    def sim(self, name, *args):
        s = Sim(self.workdir, name, *args)
        self.sims.append(s)
        return s

    def device(self, name, sim, extra=""):
        return f'  <Device "{name}">\n    Address "unix:{sim.path}"\n{extra}  </Device>\n'


def require_built():
    for path in (BM6_SO, BM6_SIM, COLLECTD, TYPES_DB):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: build first, and install collectd-core")
