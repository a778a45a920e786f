"""podman_compose_config.py: `podman-compose config` for podman-compose 1.0.3.

Debian 12's podman-compose (1.0.3) has no `config` command (later versions
print the resolved file with it). This runs that version's own loader, the
code `podman-compose up` runs first, without touching podman: it reads
compose.yaml and .env, substitutes the ${VARIABLES} (an unset `${X:?msg}`
fails with msg), merges the x- anchors, resolves depends_on and replicas.
Prints the containers it would create as JSON, one object per container:
name, service, image, command, environment, volumes, ports, deps.

Usage: /usr/bin/python3 podman_compose_config.py COMPOSE_FILE
(Debian's python3: podman_compose is a Debian module.)
"""
import json
import sys

import podman_compose


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    pc = podman_compose.podman_compose  # the instance its commands are registered on
    # the argument parser of podman-compose itself, as for `podman-compose -f FILE ps`
    sys.argv = ["podman-compose", "-f", sys.argv[1], "ps"]
    pc._parse_args()
    try:
        pc._parse_compose_file()
    except RuntimeError as e:  # a ${X:?message} without a value
        sys.exit(f"podman-compose: {e}")
    out = []
    for c in pc.containers:
        out.append({
            "name": c["name"],
            "service": c["_service"],
            "image": c.get("image"),
            "command": c.get("command"),
            "environment": c.get("environment") or {},
            "volumes": c.get("volumes") or [],
            "ports": c.get("ports") or [],
            "deps": sorted(c.get("_deps") or []),
        })
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
