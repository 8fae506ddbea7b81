#!/usr/bin/env python3
"""A stand-in for systemd's notification socket: binds an AF_UNIX datagram socket (a path, or an
abstract name when it starts with '@'), asks the kernel for the sender's credentials
(SO_PASSCRED, as systemd does) and prints one JSON line per datagram: {"pid": ..., "data": ...}.
Prints {"ready": true} once bound. Exits on SIGTERM or when stdin closes."""
import json, os, select, socket, struct, sys

path = sys.argv[1]
addr = "\0" + path[1:] if path.startswith("@") else path
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind(addr)
print(json.dumps({"ready": True}), flush=True)
ucred = struct.calcsize("3i")
while True:
    readable, _, _ = select.select([sock, sys.stdin], [], [])
    if sys.stdin in readable and not sys.stdin.readline():
        break
    if sock in readable:
        data, ancdata, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(ucred))
        pid = None
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _, _ = struct.unpack("3i", payload[:ucred])
        print(json.dumps({"pid": pid, "data": data.decode("utf-8", "replace")}), flush=True)
if not path.startswith("@"):
    os.unlink(path)
