"""The demo stopped the documented way, Ctrl-C: the terminal sends SIGINT to the whole
foreground process group. collectd must stop before the simulators, so its log ends
without a link lost or a FAILURE notification, and nothing the demo started is left."""
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BUILD = os.environ["BM6_BUILD_DIR"]
RUN = os.path.join(BUILD, "demo-stop")


def main():
    out_path = os.path.join(BUILD, "demo-stop.out")
    env = dict(os.environ, DEMO_DIR=RUN)
    env.pop("DEMO_SECONDS", None)
    with open(out_path, "w") as out, open(os.devnull, "r+") as null:
        # A process group of its own, as a shell with job control gives a foreground job.
        demo = subprocess.Popen([os.path.join(ROOT, "scripts", "demo")], env=env, stdin=null,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 30
        def output():
            with open(out_path) as f:
                return f.read()
        while not all(f" {dev} " in output() for dev in ("van", "house", "boat")):
            if demo.poll() is not None or time.time() > deadline:
                sys.exit("the demo did not show values of the three devices:\n" + output())
            time.sleep(0.2)
        time.sleep(2)  # a few more reads, links well established
        pid_file = os.path.join(RUN, "collectd.pid")
        collectd_pid = int(open(pid_file).read()) if os.path.exists(pid_file) else None
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C
        rc = demo.wait(timeout=30)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    text = output()
    print(text)
    with open(os.path.join(RUN, "collectd.log")) as f:
        log = f.read()
    failures = []
    if rc != 0:
        failures.append(f"the demo exited with {rc}")
    bad = [l for l in log.splitlines() if "link lost" in l or "FAILURE" in l or "unreachable" in l]
    if bad:
        failures.append("collectd's log has link failures after Ctrl-C:\n  " + "\n  ".join(bad))
    if "Exiting normally" not in log:
        failures.append("collectd did not log a normal exit")
    if collectd_pid is not None and os.path.exists(f"/proc/{collectd_pid}"):
        failures.append("collectd still runs")
    left = [s for s in ("van.sock", "house.sock", "boat.sock") if os.path.exists(os.path.join(RUN, s))]
    if left:
        failures.append(f"simulator sockets left (simulators not stopped?): {left}")
    if "graphs: " not in text:
        failures.append("no graphs drawn on exit")
    if failures:
        print("collectd.log:\n" + log, file=sys.stderr)
        sys.exit("\n".join(failures))
    print("demo stopped cleanly by SIGINT to its process group")


if __name__ == "__main__":
    main()
