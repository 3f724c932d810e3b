#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A small NTP client for ntp_server.sh.

  ntp_query.py query PORT SRC [DST]   one mode 3 request from SRC to DST:PORT
                                      (127.0.0.1; an IPv6 SRC and DST for IPv6);
                                      prints the reply's fields as JSON, or
                                      {"reply": false} after 5 s without one
  ntp_query.py send PORT SRC N        N requests from SRC, as fast as possible;
                                      prints the socket's port, then keeps it open
                                      until a line on stdin, and prints the replies
                                      it holds (basic and KoD RATE) as JSON
  ntp_query.py flood PORT SRC STOP    requests from SRC as fast as possible until
                                      the file STOP exists; prints how many
"""
import json
import os
import socket
import struct
import sys


def request(xmt):
    req = bytearray(48)
    req[0] = (0 << 6) | (4 << 3) | 3
    req[40:48] = struct.pack(">Q", xmt)
    return bytes(req)


def fields(d):
    rd, rdisp = struct.unpack(">II", d[4:12])
    return {
        "reply": True,
        "leap": d[0] >> 6,
        "version": (d[0] >> 3) & 7,
        "mode": d[0] & 7,
        "stratum": d[1],
        "poll": struct.unpack("b", d[2:3])[0],
        "precision": struct.unpack("b", d[3:4])[0],
        "root_delay_s": rd / 65536.0,
        "root_dispersion_s": rdisp / 65536.0,
        "refid": d[12:16].hex(),
        "refid_text": d[12:16].decode("latin-1"),
        "origin": struct.unpack(">Q", d[24:32])[0],
        "receive": struct.unpack(">Q", d[32:40])[0],
        "transmit": struct.unpack(">Q", d[40:48])[0],
    }


def main():
    cmd, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((src, 0))
    dst = ("127.0.0.1", port)
    if cmd == "query" and len(sys.argv) > 4:
        dst = (sys.argv[4], port)
    if cmd == "query":
        s.settimeout(5)
        s.sendto(request(0x1122334455667788), dst)
        try:
            d, _ = s.recvfrom(1024)
        except socket.timeout:
            print(json.dumps({"reply": False}))
            return
        f = fields(d)
        f["origin_ok"] = f["origin"] == 0x1122334455667788
        print(json.dumps(f))
    elif cmd == "send":
        for i in range(int(sys.argv[4])):
            s.sendto(request(i + 1), dst)
        print(s.getsockname()[1], flush=True)
        sys.stdin.readline()
        s.setblocking(False)
        replies = kod = 0
        while True:
            try:
                d, _ = s.recvfrom(1024)
            except BlockingIOError:
                break
            if d[1] == 0 and d[12:16] == b"RATE":
                kod += 1
            else:
                replies += 1
        print(json.dumps({"replies": replies, "kod": kod}))
    elif cmd == "flood":
        stop = sys.argv[4]
        s.setblocking(False)
        n = 0
        while True:
            for _ in range(256):
                try:
                    s.sendto(request(n + 1), dst)
                    n += 1
                except BlockingIOError:
                    pass
                try:
                    while True:
                        s.recvfrom(1024)
                except BlockingIOError:
                    pass
            if os.path.exists(stop):
                break
        print(json.dumps({"sent": n}))


main()
