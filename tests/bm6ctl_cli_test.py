#!/usr/bin/env python3
"""bm6ctl as a user meets it, against bm6-sim: options anywhere, --help for the tool and each
command, --version, usage errors (exit 2) that name the cause, unreachable devices (exit 1)
that say what is at the path, a busy monitor, the --timeout bound, no permission (exit 3),
scan of a socket directory, JSON and terminal output that survive hostile socket paths, and
decode with the protocol notes' public vectors.

usage: bm6ctl_cli_test.py BM6CTL BM6_SIM
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BM6CTL, SIM = sys.argv[1], sys.argv[2]


def bm6ctl(*args, **kw):
    return subprocess.run([BM6CTL, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=60, **kw)


def out(r):
    return r.stdout.decode("utf-8", "replace")


def err(r):
    return r.stderr.decode("utf-8", "replace")


def no_raw_control(data):
    """No byte below 0x20 other than the newlines that end lines, and no DEL."""
    return all(b >= 0x20 and b != 0x7f or b == 0x0a for b in data)


class Sim:
    """bm6-sim serving `paths`; `args` go before every --socket."""

    def __init__(self, paths, log, *args):
        cmd = [SIM]
        for p in paths:
            cmd += [*args, "--socket", p]
        self.log = log
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        deadline = time.monotonic() + 10
        while not all(os.path.exists(p) for p in paths):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("bm6-sim did not start")
            time.sleep(0.02)

    def count(self, text):
        return open(self.log, "rb").read().count(text.encode())

    def wait_for(self, text, seconds=10, times=1):
        """Until the log holds `text` `times` times (the simulator's events, not a sleep)."""
        deadline = time.monotonic() + seconds
        while self.count(text) < times:
            if time.monotonic() > deadline:
                raise AssertionError(f"bm6-sim did not log {text!r} {times} time(s)")
            time.sleep(0.02)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def hold(sim, path):
    """A central that connects and holds the link, as the phone app does; returns once the
    simulator has accepted it (the next central is turned away)."""
    connected = sim.count("central connected")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    sim.wait_for("central connected", times=connected + 1)
    return s


class Bm6ctlCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bm6ctl-cli-")
        os.chmod(self.dir, 0o755)
        self.sims = []

    def tearDown(self):
        for s in self.sims:
            s.stop()
        shutil.rmtree(self.dir)

    def sim(self, name, *args):
        path = os.path.join(self.dir, name)
        self.sims.append(Sim([path], os.path.join(self.dir, f"sim{len(self.sims)}.log"), "--voltage", "12.74", "--temperature", "9", "--soc", "81",
                             "--period", "0.2", *args))
        return path

    def assertUsage(self, r, *parts):
        self.assertEqual(r.returncode, 2, err(r))
        self.assertEqual(out(r), "")
        for p in parts:
            self.assertIn(p, err(r))
        self.assertIn("--help' for more information", err(r))

    # --- help and version -------------------------------------------------------------

    def test_version(self):
        r = bm6ctl("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(out(r), r"^bm6ctl \(bm6-collectd\) \d+\.\d+\.\d+\n$")

    def test_help(self):
        for args in (["--help"], ["-h"], ["help"]):
            r = bm6ctl(*args)
            self.assertEqual(r.returncode, 0, args)
            self.assertIn("Usage: bm6ctl", out(r))
            self.assertIn("Exit status", out(r))
            self.assertEqual(err(r), "")
        for args in (["read", "--help"], ["read", "-h"], ["help", "read"], ["--help", "read"],
                     ["read", "unix:/x", "--json", "--help"]):
            r = bm6ctl(*args)
            self.assertEqual(r.returncode, 0, args)
            self.assertIn("Usage: bm6ctl read ADDRESS", out(r))
            for o in ("--adapter", "--address-type", "--timeout", "--json"):
                self.assertIn(o, out(r))
        r = bm6ctl("scan", "--help")
        self.assertEqual(r.returncode, 0)
        for o in ("Usage: bm6ctl scan", "--adapter", "--timeout", "--all", "--json"):
            self.assertIn(o, out(r))

    # --- usage errors: exit 2, the cause named ----------------------------------------

    def test_usage_errors(self):
        self.assertUsage(bm6ctl())
        self.assertUsage(bm6ctl("frobnicate"), "'frobnicate'")
        self.assertUsage(bm6ctl("read", "--bogus", "unix:/x"), "'--bogus'", "bm6ctl read --help")
        self.assertUsage(bm6ctl("read", "unix:/x", "--timeout"), "'--timeout' needs a value")
        self.assertUsage(bm6ctl("scan", "--address-type", "random"), "'--address-type'")
        self.assertUsage(bm6ctl("read"), "needs an ADDRESS")
        self.assertUsage(bm6ctl("read", "van"), "'van' is neither")
        self.assertUsage(bm6ctl("read", "unix:/x", "--address-type", "static"), "'static'")
        # --timeout 0 is refused with what --help says the range is.
        r = bm6ctl("read", "unix:/x", "--timeout", "0")
        self.assertUsage(r, "more than 0 and at most 3600")
        self.assertIn("more than 0 and at most 3600", out(bm6ctl("read", "--help")))

    def test_habits(self):
        # help help: the tool's help, which says what help does.
        r = bm6ctl("help", "help")
        self.assertEqual(r.returncode, 0, err(r))
        self.assertIn("help [COMMAND]", out(r))
        self.assertEqual(err(r), "")
        # A BM2 keeps no history: refused before any connection is tried.
        self.assertUsage(bm6ctl("history", "unix:/x", "--model", "bm2"), "--model: a BM2 keeps no history",
                         "bm6ctl history --help")
        # --timeout is a decimal number: 2.5 is taken (a usage error would be 2), hex is not.
        r = bm6ctl("read", "unix:" + os.path.join(self.dir, "nothing"), "--timeout", "2.5")
        self.assertEqual(r.returncode, 1, err(r))
        for bad in ("0x10", "1e2", "+5"):
            self.assertUsage(bm6ctl("read", "unix:/x", "--timeout", bad),
                             f"'{bad}' is not a number of seconds")
        # An option given twice names the option, however it was spelt.
        self.assertUsage(bm6ctl("read", "unix:/x", "-t", "5", "--timeout=6"),
                         "option '--timeout' is given twice")
        self.assertUsage(bm6ctl("-j", "read", "unix:/x", "--json"), "option '--json' is given twice")
        # A colon inside a byte.
        self.assertUsage(bm6ctl("decode", "--address", "50:54:7B:80:2C:3C", "d1:5:5f:0"),
                         "'d1:5:5f:0' has a colon that is not between two bytes")

    def test_dash_address_is_an_address(self):
        # No Bluetooth here: it fails to connect (1), but is not a usage error (2).
        r = bm6ctl("read", "aa-bb-cc-dd-ee-ff", "--timeout", "0.5")
        self.assertNotEqual(r.returncode, 2, err(r))
        self.assertNotIn("neither", err(r))
        if r.returncode != 0:
            self.assertIn("AA:BB:CC:DD:EE:FF", err(r))

    # --- reading, options anywhere ----------------------------------------------------

    def test_read_options_anywhere(self):
        path = self.sim("van.sock")
        for args in (["read", "--json", "unix:" + path], ["read", "unix:" + path, "--json"],
                     ["--json", "read", "unix:" + path], ["read", "-j", "--", "unix:" + path]):
            r = bm6ctl(*args)
            self.assertEqual(r.returncode, 0, f"{args}: {err(r)}")
            v = json.loads(out(r))
            self.assertEqual(v, {"address": "unix:" + path, "model": "BM6", "voltage": 12.74,
                                 "temperature": 9, "soc": 81, "state": "normal"})
        r = bm6ctl("read", "unix:" + path, "--timeout=5")
        self.assertEqual(r.returncode, 0, err(r))
        self.assertEqual(out(r), f"unix:{path}: BM6, 12.74 V, 9 C, 81 %, normal\n")
        r = bm6ctl("read", "unix:" + path, "--model", "bm6", "--timeout=5")
        self.assertEqual(r.returncode, 0, err(r))
        self.assertEqual(out(r), f"unix:{path}: BM6, 12.74 V, 9 C, 81 %, normal\n")
        r = bm6ctl("read", "unix:" + path, "--model=bm9")
        self.assertEqual(r.returncode, 2)
        self.assertIn("'bm9' is not auto, bm6, bm7 or bm2", err(r))

    def test_read_with_config_shows_the_corrected_values(self):
        """read --config: the <Device>'s offsets added (a plugin-level default too, from a
        file the configuration Includes) and the rest-voltage estimate, as the plugin
        dispatches them; by device name or by address."""
        path = self.sim("van.sock")
        conf_d = os.path.join(self.dir, "collectd.conf.d")
        os.mkdir(conf_d)
        conf = os.path.join(self.dir, "collectd.conf")
        with open(conf, "w") as f:
            f.write('Hostname "test"\n# a comment <Plugin bm6>\nLoadPlugin bm6\n'
                    f'<Include "{conf_d}">\n  Filter "*.conf"\n</Include>\n')
        with open(os.path.join(conf_d, "bm6.conf"), "w") as f:
            f.write('<Plugin "bm6">\n  TemperatureOffset -4.5  # every device\n'
                    '  <Device "house">\n    Address "unix:/nonexistent.sock"\n  </Device>\n'
                    f'  <Device "van">\n    Address "unix:{path}"\n    VoltageOffset -0.2\n'
                    '    Chemistry "lead-acid"\n  </Device>\n</Plugin>\n')
        with open(os.path.join(conf_d, "bm6.conf.disabled"), "w") as f:
            f.write("this is no configuration <\n")  # not matched by the Filter
        want = (f'unix:{path}: BM6, 12.54 V, 4.5 C, 81 %, normal; "van": offsets -0.2 V, '
                "-4.5 C; at rest (lead-acid) 86.25 %\n")  # BCI: 12.45 V 75 %, 12.65 V 100 %
        for args in (["read", "van", "--config", conf], ["read", "-c", conf, "unix:" + path]):
            r = bm6ctl(*args)
            self.assertEqual(r.returncode, 0, f"{args}: {err(r)}")
            self.assertEqual(out(r), want)
        r = bm6ctl("read", "van", "--config=" + conf, "--json")
        self.assertEqual(r.returncode, 0, err(r))
        self.assertEqual(json.loads(out(r)), {
            "address": "unix:" + path, "device": "van", "model": "BM6", "voltage": 12.54,
            "temperature": 4.5, "soc": 81, "soc_estimated": 86.25, "chemistry": "lead-acid",
            "state": "normal", "voltage_offset": -0.2, "temperature_offset": -4.5})
        # Mistakes: exit 1, with the reason and where.
        r = bm6ctl("read", "boat", "--config", conf)
        self.assertEqual(r.returncode, 1)
        self.assertIn('no <Device> named "boat" in <Plugin bm6>', err(r))
        r = bm6ctl("read", "van", "--config", os.path.join(self.dir, "missing.conf"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing.conf: cannot be read", err(r))
        with open(os.path.join(conf_d, "bm6.conf"), "a") as f:
            f.write('<Plugin bm6>\n  <Device "bad">\n    VoltageOffset 12.8\n  </Device>\n'
                    '</Plugin>\n')
        r = bm6ctl("read", "van", "--config", conf)
        self.assertEqual(r.returncode, 1)
        self.assertIn('bm6.conf:14: device "bad": option "VoltageOffset" must be from -2 to 2 V',
                      err(r))
        # Without --config a name is no address: a usage error, as before.
        self.assertUsage(bm6ctl("read", "van"), "'van' is neither a Bluetooth address")

    # --- history: the stored records, oldest first, at estimated times ----------------

    def test_history_prints_the_simulators_records(self):
        path = self.sim("van.sock", "--record-period", "60", "--history-seed", "300")
        before = time.time()
        r = bm6ctl("history", "unix:" + path, "--pages", "2", "--json", "--record-period", "60")
        self.assertEqual(r.returncode, 0, err(r))
        rows = [json.loads(line) for line in out(r).splitlines()]
        self.assertEqual(len(rows), 300)
        self.assertEqual([row["slot"] for row in rows], list(range(299, -1, -1)))
        self.assertTrue(all(row["voltage"] == 12.74 and row["soc"] == 81 and
                            row["temperature"] == 9 and row["uncertainty_s"] == 60 for row in rows))
        # Each a record period before the next; the newest a second or two before now.
        epochs = [row["epoch"] for row in rows]
        self.assertEqual({b - a for a, b in zip(epochs, epochs[1:])}, {60})
        self.assertLessEqual(epochs[-1], time.time() - 1)
        self.assertGreaterEqual(epochs[-1], before - 2)
        r = bm6ctl("history", "unix:" + path, "--record-period", "60")
        self.assertEqual(r.returncode, 0, err(r))
        lines = out(r).splitlines()
        self.assertIn("256 stored records, oldest first; times are estimated: each record was "
                      "taken up to 60 s before the time shown", lines[0])
        self.assertEqual(len(lines), 257)
        self.assertRegex(lines[1], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d   12\.74 V   81 %    9 C  event 0$")
        r = bm6ctl("history", "unix:" + path, "--csv")
        self.assertEqual(r.returncode, 0, err(r))
        lines = out(r).splitlines()
        self.assertEqual(lines[0], "time,epoch,uncertainty_s,voltage,soc,temperature,event,slot")
        self.assertRegex(lines[-1], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ,\d+,120,12\.74,81,9,0,0$")

    def test_history_framings_real_units_use(self):
        # Live frames among the blocks, an ff ff fe start, the end in the last record block,
        # a BM7's window of 3,709 records: every record read, exit 0.
        for fault, model, count in (("history-interleaved", "bm6", 256),
                                    ("history-ff-start", "bm6", 256),
                                    ("history-end-mid-block", "bm6", 254),
                                    ("history-long", "bm7", 3709)):
            path = self.sim(fault + ".sock", "--model", model, "--history-seed", "3709",
                            "--fault", fault)
            r = bm6ctl("history", "unix:" + path, "--csv")
            self.assertEqual(r.returncode, 0, (fault, err(r)))
            rows = out(r).splitlines()[1:]
            self.assertEqual(len(rows), count, fault)
            self.assertEqual(rows[-1].split(",")[-1], "0", fault)  # the newest, slot 0

    def test_history_empty_answer_is_no_records(self):
        path = self.sim("empty.sock", "--history-seed", "5", "--fault", "history-empty")
        r = bm6ctl("history", "unix:" + path)
        self.assertEqual(r.returncode, 0, err(r))
        self.assertRegex(out(r), r"^# unix:.*empty\.sock: BM6, no records\n$")
        self.assertEqual(err(r), "")

    def test_history_refuses_a_paused_answer(self):
        path = self.sim("pause.sock", "--history-seed", "300", "--fault", "history-pause")
        r = bm6ctl("history", "unix:" + path)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(out(r), "")
        self.assertIn("history: truncated: no notification for 3 s before the end", err(r))

    def test_history_refuses_a_corrupt_answer(self):
        path = self.sim("bad.sock", "--history-seed", "5", "--fault", "history-corrupt")
        r = bm6ctl("history", "unix:" + path)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(out(r), "")
        self.assertIn("history: rejected: garbage record", err(r))
        self.assertUsage(bm6ctl("history", "unix:" + path, "--pages", "0"), "'0' is not a whole number from 1 to 255")
        self.assertUsage(bm6ctl("history", "unix:" + path, "--json", "--csv"), "not both")
        self.assertUsage(bm6ctl("read", "unix:" + path, "--pages", "2"), "read has no option '--pages'")

    # --- unreachable: exit 1, what is at the path -------------------------------------

    def test_unreachable(self):
        r = bm6ctl("read", "unix:" + os.path.join(self.dir, "none.sock"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("no simulator socket", err(r))
        regular = os.path.join(self.dir, "file")
        open(regular, "w").close()
        r = bm6ctl("read", "unix:" + regular)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is a regular file, not a socket", err(r))
        r = bm6ctl("read", "unix:" + self.dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is a directory, not a socket", err(r))
        stale = os.path.join(self.dir, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind(stale)
        s.close()
        r = bm6ctl("read", "unix:" + stale)
        self.assertEqual(r.returncode, 1)
        self.assertIn("a socket nobody listens on", err(r))

    # --- a busy monitor ---------------------------------------------------------------

    def test_busy_held_connection(self):
        path = self.sim("van.sock")
        sim = self.sims[-1]
        central = hold(sim, path)
        try:
            for _ in range(2):
                r = bm6ctl("read", "unix:" + path, "--timeout", "5")
                self.assertEqual(r.returncode, 1, err(r))
                self.assertIn("the monitor closed the link at once: it is busy (another central, "
                              "e.g. the phone app, holds it)", err(r))
        finally:
            central.close()
        sim.wait_for("central disconnected")
        r = bm6ctl("read", "unix:" + path)
        self.assertEqual(r.returncode, 0, err(r))

    def test_busy_two_reads(self):
        # The first read holds the link (the monitor never answers); the second is turned away.
        path = self.sim("quiet.sock", "--fault", "silent")
        first = subprocess.Popen([BM6CTL, "read", "unix:" + path, "--timeout", "3"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        try:
            self.sims[-1].wait_for("central connected")
            r = bm6ctl("read", "unix:" + path, "--timeout", "2")
            self.assertEqual(r.returncode, 1, err(r))
            self.assertIn("it is busy", err(r))
        finally:
            first_out, first_err = first.communicate(timeout=20)
        self.assertEqual(first.returncode, 1)
        self.assertIn(b"no reading within 3 s", first_err)

    # --- the --timeout bound ----------------------------------------------------------

    def test_read_timeout_is_the_bound(self):
        path = self.sim("quiet.sock", "--fault", "silent")
        missing = "unix:" + os.path.join(self.dir, "none.sock")
        for limit in (1.0, 0.3):
            # What starting bm6ctl costs on this machine now (a read that fails at once): on a
            # loaded machine it is not the timeout's doing.
            t0 = time.monotonic()
            bm6ctl("read", missing)
            start_cost = time.monotonic() - t0
            t0 = time.monotonic()
            r = bm6ctl("read", "unix:" + path, "--timeout", str(limit))
            took = time.monotonic() - t0
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"no reading within {limit:g} s", err(r))
            self.assertGreaterEqual(took, limit - 0.05)
            self.assertLess(took, limit + start_cost + 0.5,
                            f"--timeout {limit} took {took:.2f} s (starting bm6ctl {start_cost:.2f} s)")

    # --- not permitted: exit 3 --------------------------------------------------------

    def test_not_permitted(self):
        path = self.sim("van.sock")
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if not setpriv:
                self.skipTest("running as root without setpriv")
            cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", BM6CTL]
            os.chmod(path, 0o700)
        else:
            cmd = [BM6CTL]
            os.chmod(path, 0o000)
        r = subprocess.run([*cmd, "read", "unix:" + path], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        if r.returncode == 126 or b"Permission denied" in r.stderr and b"bm6ctl:" not in r.stderr:
            self.skipTest("bm6ctl not executable as another user here")
        self.assertEqual(r.returncode, 3, err(r))
        self.assertIn("not permitted to connect to", err(r))

    # --- scan of a socket directory ---------------------------------------------------

    def test_scan_unix_dir_lists_listening_sockets_only(self):
        live = self.sim("live.sock")
        stale = os.path.join(self.dir, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind(stale)
        s.close()
        open(os.path.join(self.dir, "file"), "w").close()
        os.mkdir(os.path.join(self.dir, "sub"))
        r = bm6ctl("scan", "--adapter", "unix:" + self.dir)
        self.assertEqual(r.returncode, 0, err(r))
        self.assertEqual(out(r), f"unix:{live}\n")
        r = bm6ctl("--json", "scan", "--adapter=unix:" + self.dir)
        self.assertEqual([json.loads(line) for line in out(r).splitlines()],
                         [{"address": "unix:" + live}])
        empty = os.path.join(self.dir, "sub")
        r = bm6ctl("scan", "--adapter", "unix:" + empty)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no socket", err(r))

    # --- hostile paths never break JSON or reach the terminal raw ---------------------

    def test_hostile_socket_path(self):
        name = 'q"b\\s\x1b[2J\x07\x7f.sock'
        path = self.sim(name)
        r = bm6ctl("read", "--json", "unix:" + path)
        self.assertEqual(r.returncode, 0, err(r))
        self.assertTrue(no_raw_control(r.stdout), r.stdout)
        self.assertEqual(json.loads(out(r))["address"], "unix:" + path)
        r = bm6ctl("read", "unix:" + path)
        self.assertEqual(r.returncode, 0, err(r))
        self.assertTrue(no_raw_control(r.stdout), r.stdout)
        self.assertIn("\\x1b[2J\\x07\\x7f", out(r))
        r = bm6ctl("scan", "--json", "--adapter", "unix:" + self.dir)
        self.assertEqual(json.loads(out(r)), {"address": "unix:" + path})
        self.assertTrue(no_raw_control(r.stdout))
        r = bm6ctl("scan", "--adapter", "unix:" + self.dir)
        self.assertTrue(no_raw_control(r.stdout))
        # Errors too: the path quoted back in a message.
        r = bm6ctl("read", "unix:" + os.path.join(self.dir, "gone\x1b[31m"))
        self.assertEqual(r.returncode, 1)
        self.assertTrue(no_raw_control(r.stderr), r.stderr)
        r = bm6ctl("read", "van\x1b]0;title\x07")
        self.assertEqual(r.returncode, 2)
        self.assertTrue(no_raw_control(r.stderr), r.stderr)

    # --- decode: the notes' public vectors, as a user pastes them -----------------------

    ADVERTISER = "50:54:7B:80:2C:3C"
    # Company id (little-endian number) then the 14 bytes, from the protocol notes.
    VECTORS = [(0x286a, "1d 95 ea 13 2b ed 41 fe f0 cc f8 9c a9 4a", 13.51),
               (0xe5fc, "fd 1b d9 38 5a 06 81 a1 36 0c 16 76 be a4", 13.52),
               (0x7c25, "44 70 7b b6 77 e7 40 bb af a9 4e 60 dc 64", 13.53)]

    def decoded(self, *args):
        r = bm6ctl("decode", *args)
        self.assertEqual(r.returncode, 0, err(r))
        self.assertEqual(err(r), "")
        return json.loads(out(r))

    def test_decode_public_vectors(self):
        for company, rest, volts in self.VECTORS:
            # Byte 10 (2 in all three) is unconfirmed: raw, never "temperature".
            want = {"address": self.ADVERTISER, "model": "BM6", "voltage": volts,
                    "soc": 100, "state": "charging", "byte10_unconfirmed": 2,
                    "source": "advertisement"}
            as_sent = f"{company & 0xff:02x}{company >> 8:02x}" + rest.replace(" ", "")
            # As sent (btmon's bytes), spaced, with colons and 0x; and as bluetoothctl
            # prints it (the company id as a number, then the value), options anywhere.
            self.assertEqual(self.decoded("--address", self.ADVERTISER, as_sent), want)
            self.assertEqual(self.decoded(as_sent.upper(), "--address", self.ADVERTISER.lower()),
                             want)
            spaced = " ".join(as_sent[i:i + 2] for i in range(0, 32, 2))
            self.assertEqual(self.decoded("--address", self.ADVERTISER, spaced), want)
            self.assertEqual(self.decoded("--address=" + self.ADVERTISER,
                                          "0x" + spaced.replace(" ", ":")), want)
            self.assertEqual(self.decoded(f"0x{company:04x}", *rest.split(), "--model", "bm6",
                                          "--address", self.ADVERTISER), want)
        # The notes' live-data frames are notifications; the BM2's needs --model bm2.
        self.assertEqual(self.decoded("--address", self.ADVERTISER,
                                      "02ced3fc593fbd09ef57f38a73897610"),
                         {"address": self.ADVERTISER, "model": "BM6", "voltage": 13.4,
                          "temperature": 23, "soc": 100, "state": "normal",
                          "source": "notification"})
        self.assertEqual(self.decoded("--address", self.ADVERTISER, "--model", "bm7",
                                      "35a23acd8f8a3b36554fba10f1879507")["temperature"], -7)
        bm2 = self.decoded("--address", self.ADVERTISER, "--model", "bm2",
                           "7bfbe42536d68b55ccfb73f63cee4465")
        self.assertEqual((bm2["voltage"], bm2["soc"], bm2["state"]), (12.71, 87, "charging"))
        self.assertNotIn("temperature", bm2)
        # The iBeacon: the state of charge only.
        beacon = "4c000215 3ba29cd9a42c894856badaf2606ef777 004d 0000 c5"
        self.assertEqual(self.decoded("--address", self.ADVERTISER, beacon),
                         {"address": self.ADVERTISER, "soc": 77, "source": "ibeacon"})

    def test_decode_rejects_what_is_no_reading(self):
        company, rest, _ = self.VECTORS[0]
        data = f"{company & 0xff:02x}{company >> 8:02x}" + rest.replace(" ", "")
        # Another device's address: exit 1, the reason on stderr, nothing on stdout.
        for other in ("50:54:7B:80:2C:3D", "3C:2C:80:7B:54:50"):
            r = bm6ctl("decode", "--address", other, data)
            self.assertEqual(r.returncode, 1, err(r))
            self.assertEqual(out(r), "")
            self.assertIn("address mismatch", err(r))
            self.assertIn(other, err(r))
        # Under the wrong family's key only.
        r = bm6ctl("decode", "--address", self.ADVERTISER, "--model", "bm2", data)
        self.assertEqual(r.returncode, 1, err(r))
        self.assertIn("under the BM2 key", err(r))
        r = bm6ctl("decode", "--address", self.ADVERTISER, "0102030405")
        self.assertEqual(r.returncode, 1)
        self.assertIn("5 bytes", err(r))
        # Usage errors: exit 2, the cause named.
        self.assertUsage(bm6ctl("decode", "--address", self.ADVERTISER, "6a28zz"), "'6a28zz'",
                         "not hexadecimal", "bm6ctl decode --help")
        self.assertUsage(bm6ctl("decode", "--address", self.ADVERTISER, "6a2"), "odd number")
        self.assertUsage(bm6ctl("decode", "--address", self.ADVERTISER), "needs HEX")
        self.assertUsage(bm6ctl("decode", data), "needs --address")
        self.assertUsage(bm6ctl("decode", "--address", "van", data), "'van'")
        self.assertUsage(bm6ctl("decode", "--address", self.ADVERTISER, "--timeout", "2", data),
                         "'--timeout'")
        self.assertUsage(bm6ctl("read", "unix:/x", "--address", self.ADVERTISER), "'--address'")
        r = bm6ctl("decode", "--address", self.ADVERTISER, "\x1b[2J")
        self.assertEqual(r.returncode, 2)
        self.assertTrue(no_raw_control(r.stderr), r.stderr)

    def test_decode_help(self):
        for args in (["decode", "--help"], ["help", "decode"], ["decode", "x", "--help"]):
            r = bm6ctl(*args)
            self.assertEqual(r.returncode, 0, args)
            self.assertIn("Usage: bm6ctl decode --address MAC", out(r))
            self.assertIn("Exit status", out(r))
        self.assertIn("decode --address MAC", out(bm6ctl("--help")))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
