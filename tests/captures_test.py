#!/usr/bin/env python3
"""Every public capture in tests/captures/ decodes (bm6ctl decode --file) to exactly the
values its source states, or, where the source states none, the values the protocol notes'
layout gives for its bytes (worked out by hand below, not by our encoder). A capture added
to the directory without expectations here fails the test. Also: decode --file's usage
errors and what it says about a broken capture.

usage: captures_test.py BM6CTL
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

BM6CTL = sys.argv[1]
CAPTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "captures")


def decode(path, *args):
    r = subprocess.run([BM6CTL, "decode", "--file", path, *args], capture_output=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    lines = [json.loads(line) for line in r.stdout.decode().splitlines()]
    return r.returncode, lines, r.stderr.decode("utf-8", "replace")


def reading(source, model, **values):
    return {"source": source, "model": model, "reading": values}


# Per capture: one expected decode per notification or manufacturer data field, in order.
EXPECTED = {
    # Domoticz forum t=28938: nine gatttool notifications of a BM2. Decrypted under the BM2
    # key they are f5 4f f2 2d .. (x4), f5 50 02 2d .. (x4), f5 50 02 2e ..: by the notes'
    # BM2 layout, digits 2-4 = 0x4ff = 1279 cV then 0x500 = 1280 cV, digit 5 = 2 (normal),
    # byte 3 = 0x2d = 45 % then 0x2e = 46 %. Bytes 4-5 count 0x020a, 0x0223, ... (+25).
    "domoticz-28938-bm2-gatttool.jsonl":
        [{"model": "BM2", "reading": {"voltage": 12.79, "soc": 45, "state": "normal"}}] * 4 +
        [{"model": "BM2", "reading": {"voltage": 12.80, "soc": 45, "state": "normal"}}] * 4 +
        [{"model": "BM2", "reading": {"voltage": 12.80, "soc": 46, "state": "normal"}}],
    # Rafciq/BM6#16: the iBeacon's major 0x1164 (low byte 0x64: 100 %), then two encrypted
    # fields of 3C:AB:72:CB:13:F4: 05 04 = 12.84 V and 05 05 = 12.85 V, 0x64 = 100 %, state 0.
    "rafciq-bm6-16.jsonl": [
        reading("ibeacon", None, soc=100),
        reading("advertisement", "BM6", voltage=12.84, soc=100, state="normal"),
        reading("advertisement", "BM6", voltage=12.85, soc=100, state="normal"),
    ],
    # theengs/decoder#420, the BM2: the owner confirmed 93 %; 05 03 = 12.83 V.
    "theengs-decoder-420-bm2.jsonl": [reading("advertisement", "BM2", voltage=12.83, soc=93)],
    # theengs/decoder#420, the BM6: 05 03 = 12.83 V, 0x11 = 17 %, state 1 (low); the
    # iBeacon in nRF Connect's raw data: major 0x1211, low byte 0x11 = 17 %.
    "theengs-decoder-420-bm6.jsonl": [
        reading("advertisement", "BM6", voltage=12.83, soc=17, state="low"),
        reading("ibeacon", None, soc=17),
    ],
    # ble_monitor#1430: 05 01 = 12.81 V, 0x29 = 41 %, state 1 (low).
    "ble-monitor-1430-bm6.jsonl": [
        reading("advertisement", "BM6", voltage=12.81, soc=41, state="low"),
    ],
}


class PublicCaptures(unittest.TestCase):
    def test_every_capture_has_expectations_and_a_source(self):
        names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(CAPTURES, "*.jsonl")))
        self.assertEqual(names, sorted(EXPECTED))
        for name in names:
            with open(os.path.join(CAPTURES, name)) as f:
                header = json.loads(f.readline())
            self.assertEqual(header["type"], "capture", name)
            self.assertTrue(header["source"].startswith("https://"), name)

    def test_each_capture_decodes_to_its_stated_values(self):
        for name, expected in EXPECTED.items():
            with self.subTest(capture=name):
                rc, lines, err = decode(os.path.join(CAPTURES, name))
                self.assertEqual(rc, 0, err)
                got = [{k: v for k, v in line.items()
                        if k in ("source", "model", "reading", "reason")} for line in lines]
                self.assertEqual(got, expected)
                for line in lines:  # the advertised byte 10 is never shown as a temperature
                    if line["type"] == "advertisement":
                        self.assertNotIn("temperature", line.get("reading", {}))

    def test_the_bm2_frames_need_no_model_to_decode(self):
        # Without the header's model, the frames themselves say BM2 (two agreeing ones).
        with open(os.path.join(CAPTURES, "domoticz-28938-bm2-gatttool.jsonl")) as f:
            lines = f.read().splitlines()
        header = json.loads(lines[0])
        del header["model"]
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as tmp:
            tmp.write("\n".join([json.dumps(header)] + lines[1:]) + "\n")
            tmp.flush()
            rc, got, err = decode(tmp.name)
        self.assertEqual(rc, 0, err)
        self.assertEqual([g["model"] for g in got], ["BM2"] * 9)
        self.assertEqual(got[0]["reading"], {"voltage": 12.79, "soc": 45, "state": "normal"})

    def test_another_key_is_no_reading(self):
        rc, lines, err = decode(os.path.join(CAPTURES, "domoticz-28938-bm2-gatttool.jsonl"),
                                "--model", "bm6")
        self.assertEqual(rc, 1)
        self.assertEqual(len(lines), 9)
        self.assertEqual({line["reason"] for line in lines}, {"not a live-data frame"})
        self.assertTrue(all("reading" not in line for line in lines))
        self.assertIn("no reading", err)


class BrokenCaptures(unittest.TestCase):
    def write(self, text):
        tmp = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
        tmp.write(text)
        tmp.close()
        self.addCleanup(os.unlink, tmp.name)
        return tmp.name

    def test_a_broken_line_is_named(self):
        cases = {
            '{"type":"notification","ciphertext":"abc"}\n': 'line 1: "ciphertext" is not hex',
            '{"type":"capture"}\n\nnot json\n': "line 3: not a JSON value",
            '{"type":"notification"}\n': "line 1: a notification without \"ciphertext\"",
            '{"type":"capture","model":"BM9"}\n': "line 1: \"model\": \"BM9\" is not",
            '[' * 100 + '\n': "line 1: nested too deeply",
            '{"type":"advertisement","rssi":"x"}\n': "line 1: \"rssi\" is not a number",
        }
        for text, message in cases.items():
            with self.subTest(text=text[:40]):
                rc, lines, err = decode(self.write(text))
                self.assertEqual(rc, 1)
                self.assertEqual(lines, [])
                self.assertIn(message, err)

    def test_missing_file_and_usage(self):
        rc, _, err = decode("/nonexistent/capture.jsonl")
        self.assertEqual(rc, 1)
        self.assertIn("cannot read /nonexistent/capture.jsonl", err)
        r = subprocess.run([BM6CTL, "decode", "--file", "x.jsonl", "00ff"], capture_output=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("takes no HEX", r.stderr.decode())

    def test_capture_of_nothing_says_why(self):
        r = subprocess.run([BM6CTL, "capture", "unix:/nonexistent/bm6.sock", "--seconds", "1"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        lines = [json.loads(line) for line in r.stdout.decode().splitlines()]
        self.assertEqual([line["type"] for line in lines], ["capture", "end"])
        self.assertEqual(lines[1]["notifications"], 0)
        self.assertIn("/nonexistent/bm6.sock", lines[1]["link"])
        self.assertIn("/nonexistent/bm6.sock", r.stderr.decode())

    def test_hostile_text_is_escaped(self):
        # An address with control characters and a quote comes back as valid, escaped JSON.
        path = self.write('{"type":"advertisement","address":"\\u001b[2J\\"x",'
                          '"manufacturer_data":"2abb8d9ea6a36dbea34c0eece562d318"}\n')
        r = subprocess.run([BM6CTL, "decode", "--file", path], capture_output=True)
        self.assertEqual(r.returncode, 1)
        self.assertNotIn(b"\x1b", r.stdout)
        line = json.loads(r.stdout.decode())
        self.assertEqual(line["address"], '\x1b[2J"x')
        self.assertIn("no advertiser address", line["reason"])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
