#!/usr/bin/env python3
# Runs a command on a new pseudo-terminal for `docker exec -t` (Node has no pty built in): stdin is copied to the
# terminal, the terminal to stdout; "ROWS COLS\n" lines on fd 3 resize it. Exits with the command's status.
import fcntl, os, select, struct, sys, termios

def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: pty-exec.py FILE [ARG...]\n")
        return 2
    pid, master = os.forkpty()
    if pid == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        except OSError as e:
            os.write(2, ("exec %s: %s\r\n" % (sys.argv[1], e.strerror)).encode())
            os._exit(126 if e.errno == 13 else 127)
    fds = [0, master]
    try:
        os.fstat(3)
        fds.append(3)
    except OSError:
        pass
    ctl = b""
    while True:
        try:
            r, _, _ = select.select(fds, [], [])
        except InterruptedError:
            continue
        if master in r:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            os.write(1, data)
        if 0 in r:
            data = os.read(0, 65536)
            if not data:
                fds.remove(0)
                os.write(master, b"\x04")  # end of input on the terminal: ^D, as a terminal user would
            else:
                os.write(master, data)
        if 3 in r:
            data = os.read(3, 4096)
            if not data:
                fds.remove(3)
                continue
            ctl += data
            while b"\n" in ctl:
                line, ctl = ctl.split(b"\n", 1)
                try:
                    rows, cols = (int(x) for x in line.split())
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                except (ValueError, OSError):
                    pass
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code  # killed by signal N: 128+N, as a shell says

if __name__ == "__main__":
    sys.exit(main())
