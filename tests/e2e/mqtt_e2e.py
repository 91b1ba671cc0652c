#!/usr/bin/env python3
"""Home Assistant through MQTT: the real collectd with bm6.so and its mqtt plugin (the
section of collectd.conf.example, as written) publishing to a real mosquitto broker on
loopback, bm6ctl ha-discovery leaving its retained discovery messages there, and a real
subscriber (mosquitto_sub) reading both back. Each value template is rendered with Jinja2,
Home Assistant's template engine, on the payload collectd sent, and must give the
simulator's value. Then the same with a broker that takes only a user with a password,
given to bm6ctl through a file, the environment or collectd's own <Publish> block."""
import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forwarding_e2e import example_section  # noqa: E402
from harness import BUILD, HOST, Collectd, E2ECase, free_port, require_built, wait_for  # noqa: E402

BM6CTL = os.path.join(BUILD, "tools", "bm6ctl")
VAN = ("--period", "0.5", "--voltage", "12.74", "--temperature", "-4", "--soc", "81",
       "--state", "charging")
BOAT = ("--period", "0.5", "--voltage", "11.61", "--temperature", "8", "--soc", "12",
        "--state", "low")
# A name with what JSON must escape and what MQTT topics must not carry ('#', '+').
ODD = 'boat "#2" \\ ü+'
ODD_CONF = 'boat \\"#2\\" \\\\ ü+'  # the same, as a quoted string in collectd.conf
SECRET = "s3cret-Ünicode_pass"  # no space: mosquitto_sub's options file splits there

# What each sensor must be: collectd's type, HA's device class, unit, state class, the
# simulator's value as the template renders it.
SENSORS = {
    "voltage": ("voltage", "voltage", "V", "measurement"),
    "temperature": ("temperature", "temperature", "°C", "measurement"),
    "charge": ("percent-charged", "battery", "%", "measurement"),
    "state": ("gauge-state", "enum", None, None),
}
VALUES = {
    "van": {"voltage": 12.74, "temperature": -4, "charge": 81, "state": "charging"},
    ODD: {"voltage": 11.61, "temperature": 8, "charge": 12, "state": "low"},
}


class Broker:
    """mosquitto as a plain process on a free loopback port, with a tiny configuration."""

    def __init__(self, case, passwords=None):
        self.port = free_port()
        conf = os.path.join(case.workdir, "mosquitto.conf")
        lines = [f"listener {self.port} 127.0.0.1", "persistence false",
                 # Run as root, mosquitto would drop to user mosquitto; stay who we are.
                 f"user {getpass.getuser()}",
                 f"log_dest file {case.workdir}/mosquitto.log"]
        if passwords:
            path = os.path.join(case.workdir, "mosquitto.passwd")
            with open(path, "w") as f:
                f.writelines(f"{u}:{p}\n" for u, p in passwords.items())
            # Hashes the plain-text file in place: no password on a command line.
            subprocess.run(["mosquitto_passwd", "-U", path], check=True)
            lines += ["allow_anonymous false", f"password_file {path}"]
        else:
            lines.append("allow_anonymous true")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(case.workdir, "mosquitto.out"), "w") as log:
            self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=log,
                                         stderr=subprocess.STDOUT)
        case.servers.append(self.proc)
        if not wait_for(self.accepts, 10, 0.05):
            raise AssertionError("mosquitto did not listen on port %d" % self.port)

    def accepts(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False


def subscribe(case, broker, topics, count, seconds, retained_only=False, credentials=None):
    """{topic: latest payload bytes} of the messages on `topics` (mosquitto_sub) until
    `count` distinct topics have one, or what came within `seconds`. Credentials go
    through mosquitto_sub's own options file, not its command line."""
    env = dict(os.environ)
    if credentials:
        home = os.path.join(case.workdir, "sub-config")
        os.makedirs(home, exist_ok=True)
        with open(os.path.join(home, "mosquitto_sub"), "w") as f:
            f.write(f"-u {credentials[0]}\n-P {credentials[1]}\n")
        env["XDG_CONFIG_HOME"] = home
    argv = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-W", str(seconds),
            "-F", "%x %t"]
    if retained_only:
        argv.append("--retained-only")
    for t in topics:
        argv += ["-t", t]
    out = {}
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as sub:
        for line in sub.stdout:
            # Hex first: a topic may hold spaces.
            payload, topic = line.decode().rstrip("\n").split(" ", 1)
            out[topic] = bytes.fromhex(payload)
            if len(out) >= count:
                break
        sub.terminate()
    return out


def render(template, payload):
    """A value template rendered as Home Assistant does (Jinja2), `value` the payload."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # what Home Assistant uses
    return ImmutableSandboxedEnvironment().from_string(template).render(value=payload.decode())


def run_ctl(*args, env=None):
    full_env = dict(os.environ)
    for k in ("BM6_MQTT_USERNAME", "BM6_MQTT_PASSWORD"):
        full_env.pop(k, None)
    full_env.update(env or {})
    return subprocess.run([BM6CTL, "ha-discovery", *args], capture_output=True, text=True,
                          env=full_env, timeout=30)


class Mqtt(E2ECase):
    def setUp(self):
        super().setUp()
        for tool in ("mosquitto", "mosquitto_sub", "mosquitto_passwd"):
            if not shutil.which(tool):
                self.fail(f"{tool} not installed (apt-get install mosquitto mosquitto-clients)")

    def start(self, broker, credentials=None):
        """collectd with two simulated monitors and the example's mqtt section."""
        van, boat = self.sim("van", *VAN), self.sim("boat", *BOAT)
        mqtt = example_section("Home Assistant").replace("mqtt.example.net", "127.0.0.1")
        mqtt = mqtt.replace("Port 1883", f"Port {broker.port}")
        if credentials:
            mqtt = mqtt.replace('#User "collectd"', f'User "{credentials[0]}"')
            mqtt = mqtt.replace('#Password "a long secret"', f'Password "{credentials[1]}"')
        block = self.device("van", van) + self.device(ODD_CONF, boat)
        self.collectd = Collectd(self.workdir, block, plugins=("mqtt",), extra_conf=mqtt)
        return os.path.join(self.workdir, "collectd.conf")

    def check_discovery(self, found, printed):
        """The retained discovery messages: one HA device per monitor, each sensor's fields."""
        self.assertEqual(set(found), set(printed), "published and --dry-run differ")
        devices = {}
        for topic, payload in found.items():
            config = json.loads(payload)
            self.assertEqual(config, printed[topic], topic)
            prefix, component, node, key, tail = topic.split("/")
            self.assertEqual((prefix, component, tail), ("homeassistant", "sensor", "config"))
            self.assertRegex(node, r"^bm6_sim_[0-9a-f]{16}$")
            ctype, device_class, unit, state_class = SENSORS[key]
            name = config["device"]["name"]
            devices.setdefault(name, set()).add(node)
            self.assertEqual(config["unique_id"], f"{node}_{key}")
            self.assertEqual(config["device"]["identifiers"], [node])
            self.assertEqual(config["device_class"], device_class)
            self.assertEqual(config.get("unit_of_measurement"), unit)
            self.assertEqual(config.get("state_class"), state_class)
            self.assertEqual(config["expire_after"], 3)  # Interval 1, three of them
            topic_name = name.replace("#", "_").replace("+", "_")
            self.assertEqual(config["state_topic"], f"collectd/{HOST}/bm6-{topic_name}/{ctype}")
            if key == "state":
                self.assertEqual(config["options"],
                                 ["normal", "low", "charging", "critical", "floating"])
        # Both monitors, under the names the configuration gives them, four sensors each
        # (a simulator has no radio: no RSSI), one node id each.
        self.assertEqual({n: len(v) for n, v in devices.items()}, {"van": 1, ODD: 1})
        self.assertEqual(len(found), 8)

    def check_values(self, broker, configs, credentials=None):
        """Each state topic the discovery names carries the simulator's value, as the
        sensor's template renders collectd's payload."""
        topics = {c["state_topic"]: c for c in configs}
        got = subscribe(self, broker, list(topics), len(topics), 10, credentials=credentials)
        self.assertEqual(set(topics) - set(got), set(), "state topics without a value")
        for topic, config in topics.items():
            payload = got[topic]
            self.assertRegex(payload, rb"^\d+\.\d+:-?[\d.]+\x00$", topic)  # TIME:VALUE, NUL
            key = config["unique_id"].rsplit("_", 1)[1]
            expected = VALUES[config["device"]["name"]][key]
            rendered = render(config["value_template"], payload)
            if key == "state":
                self.assertEqual(rendered, expected, topic)
                self.assertIn(rendered, config["options"])
            else:
                self.assertAlmostEqual(float(rendered), expected, places=6, msg=topic)

    def dry_run(self, *args):
        r = run_ctl("--dry-run", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        printed = {}
        for line in r.stdout.splitlines():
            topic, payload = line.split(" ", 1)
            printed[topic] = json.loads(payload)
        return printed

    def test_discovery_and_values_through_mosquitto(self):
        started = time.time()
        broker = Broker(self)
        conf = self.start(broker)
        printed = self.dry_run("--config", conf)
        r = run_ctl("--config", conf)  # broker, port and prefix from the <Publish> block
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)
        found = subscribe(self, broker, ["homeassistant/#"], 8, 5, retained_only=True)
        self.check_discovery(found, printed)
        self.check_values(broker, [json.loads(p) for p in found.values()])
        # --remove: the same topics, emptied; the broker then keeps nothing retained.
        r = run_ctl("--config", conf, "--remove")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(subscribe(self, broker, ["homeassistant/#"], 1, 1, retained_only=True),
                         {})
        rc, _, err = self.collectd.stop()
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.collectd.log_lines("mqtt plugin"), [], "collectd's mqtt complained")
        print(f"\nMQTT round trip in {time.time() - started:.1f} s", file=sys.stderr)

    def test_a_broker_that_wants_a_password(self):
        broker = Broker(self, passwords={"collectd": SECRET, "ha": "other-" + SECRET})
        conf = self.start(broker, credentials=("collectd", SECRET))
        # A configuration without the <Publish> block's credentials: bm6ctl's own.
        plain = os.path.join(self.workdir, "bm6-only.conf")
        with open(conf) as f:
            text = f.read()
        with open(plain, "w") as f:
            f.write(text.replace('User "collectd"', "").replace(f'Password "{SECRET}"', ""))
        where = ["--config", plain]
        r = run_ctl(*where)
        self.assertEqual(r.returncode, 3, r.stderr)  # anonymous: refused, not permitted
        self.assertIn("refused the connection: not authorised", r.stderr)
        r = run_ctl(*where, env={"BM6_MQTT_USERNAME": "ha", "BM6_MQTT_PASSWORD": "wrong-" + SECRET})
        self.assertEqual(r.returncode, 3, r.stderr)
        # mosquitto 2 answers a wrong password as it does no user: 5, not authorised.
        self.assertIn("the broker refused the connection: not authorised", r.stderr)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        r = run_ctl(*where, env={"BM6_MQTT_USERNAME": "ha", "BM6_MQTT_PASSWORD": "other-" + SECRET})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        # A credentials file, readable by its owner only, names another user; --remove.
        creds = os.path.join(self.workdir, "mqtt.credentials")
        with open(creds, "w") as f:
            f.write(f"# for bm6ctl\nusername=collectd\npassword={SECRET}\n")
        os.chmod(creds, 0o600)
        r = run_ctl(*where, "--credentials", creds, "--remove")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertEqual(subscribe(self, broker, ["homeassistant/#"], 1, 1, retained_only=True,
                                   credentials=("ha", "other-" + SECRET)), {})
        # collectd's own configuration: the <Publish> block's user and password.
        r = run_ctl("--config", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        found = subscribe(self, broker, ["homeassistant/#"], 8, 5, retained_only=True,
                          credentials=("ha", "other-" + SECRET))
        self.check_discovery(found, self.dry_run("--config", conf))
        self.check_values(broker, [json.loads(p) for p in found.values()],
                          credentials=("ha", "other-" + SECRET))
        rc, _, err = self.collectd.stop()
        self.assertEqual(rc, 0, err)

    def test_unreachable_broker_and_usage(self):
        conf = os.path.join(self.workdir, "collectd.conf")
        with open(conf, "w") as f:
            f.write('Hostname "h"\n<Plugin bm6>\n  <Device "van">\n    Address '
                    '"AA:BB:CC:DD:EE:01"\n  </Device>\n</Plugin>\n')
        r = run_ctl("--config", conf, "--broker", "127.0.0.1", "--port", str(free_port()))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot connect", r.stderr)
        # A Bluetooth monitor: an RSSI sensor too, and the address as the HA connection.
        printed = self.dry_run("--config", conf, "--expire-after", "0")
        self.assertEqual(len(printed), 5)
        rssi = printed["homeassistant/sensor/bm6_aabbccddee01/rssi/config"]
        self.assertEqual(rssi["device"]["connections"], [["bluetooth", "AA:BB:CC:DD:EE:01"]])
        self.assertEqual(rssi["state_topic"], "collectd/h/bm6-van/signal_power")
        self.assertEqual((rssi["device_class"], rssi["unit_of_measurement"]),
                         ("signal_strength", "dBm"))
        self.assertNotIn("expire_after", rssi)
        for args in (["--port", "0"], ["--bogus"], ["extra"], ["--dry-run", "--remove"]):
            self.assertEqual(run_ctl("--config", conf, *args).returncode, 2, args)
        self.assertEqual(run_ctl("--config", os.path.join(self.workdir, "none")).returncode, 1)
        help_text = run_ctl("--help")
        self.assertEqual(help_text.returncode, 0)
        for option in ("--config=FILE", "--broker=HOST", "--credentials=FILE", "--dry-run",
                       "--remove", "--expire-after=S", "Exit status"):
            self.assertIn(option, help_text.stdout)


if __name__ == "__main__":
    require_built()
    if not os.path.exists(BM6CTL):
        sys.exit(f"missing {BM6CTL}: build first")
    unittest.main(verbosity=2)
