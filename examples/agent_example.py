#!/usr/bin/env python3
"""A small external agent for aiopslab, speaking the JSON-lines protocol
(docs/agent-protocol.md) with the standard library only.

    aiopslab run --problem ID --agent-cmd "python3 examples/agent_example.py"

It looks at the pods of the app's namespace with two kubectl commands run
through exec_shell, then answers by a simple rule: pods that are not
Running and Ready are the anomaly. A real agent would put a language model
where `decide` is.
"""
import json
import re
import sys


def send(message):
    """One JSON object per line on stdout; flush so the orchestrator sees it."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def receive():
    """The next message from the orchestrator, or None when stdin closed."""
    line = sys.stdin.readline()
    return json.loads(line) if line else None


def act(call):
    """Send one action (AIOpsLab's form: one call in a fenced block) and
    return the observation text, or None when the session ended."""
    send({"action": "```\n" + call + "\n```"})
    message = receive()
    if message is None or message.get("type") == "end":
        return None
    return message["content"]


def unhealthy_workloads(pods_text):
    """Workload names (pod name without the ReplicaSet and pod suffixes)
    of the pods in `kubectl get pods` output that are not Running and Ready."""
    bad = set()
    for line in pods_text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 3 or "/" not in fields[1]:
            continue
        name, ready, status = fields[0], fields[1], fields[2]
        have, want = ready.split("/", 1)
        if status != "Running" or have != want:
            bad.add(name.rsplit("-", 2)[0])
    return sorted(bad)


def decide(task, bad):
    """The submit call for the task, from the unhealthy workloads."""
    if task == "detection":
        return 'submit("Yes")' if bad else 'submit("No")'
    if task == "localization":
        return "submit(%s)" % json.dumps(bad)
    if task == "analysis":
        level = "Virtualization" if bad else "Application"
        return 'submit({"system_level": "%s", "fault_type": "Misconfiguration"})' % level
    return "submit()"


def main():
    start = receive()
    if start is None or start.get("type") != "start":
        sys.exit("expected a start message")
    task = start["task"]
    namespace = re.search(r"^Namespace: (\S+)", start["prompt"], re.M).group(1)
    print("session %s: %s in %s" % (start["session_id"], task, namespace), file=sys.stderr)

    pods = act('exec_shell("kubectl get pods -n %s")' % namespace)
    if pods is None:
        return
    bad = unhealthy_workloads(pods)
    if task == "mitigation":
        for workload in bad:  # the usual first fix: restart what is broken
            if act('exec_shell("kubectl rollout restart deployment/%s -n %s")' % (workload, namespace)) is None:
                return
    elif act('exec_shell("kubectl get deployments -n %s")' % namespace) is None:
        return
    print("unhealthy: %s" % (bad or "none"), file=sys.stderr)
    send({"action": "```\n" + decide(task, bad) + "\n```"})
    receive()  # the end message (or EOF)


if __name__ == "__main__":
    main()
