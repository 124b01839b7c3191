#!/bin/sh
# Boot a firmware ELF on QEMU's `virt` board (the cargo runner of this package).
#
#   ./run.sh ELF            serial on stdout; host 127.0.0.1:$HOST_PORT -> guest :5001
#
# HOST_PORT   host side of the TCP forward to the guest's port 5001 (default 5001,
#             but none for an ELF named client*: the client needs no forward, and
#             the server's QEMU may hold the port); `none` for no forward.
# QEMU        the emulator (default qemu-system-riscv64).
# QEMU_MONITOR  a path: QEMU's human monitor listens on this unix socket (the tests
#             pause the board with it); unset: no monitor besides Ctrl-A C.
# SERIAL_LOG  a path: serial goes to this file instead of stdout, so that nothing
#             QEMU itself prints (on stdout or stderr) can land inside the
#             firmware's output (the tests parse it); no Ctrl-A monitor then.
#
# The guest reaches the host's 127.0.0.1:P as 10.0.2.2:P (QEMU user networking).
# The exit status is the firmware's (sifive_test): 0 pass, else its code.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 ELF" >&2; exit 2; }
elf=$1
case $(basename "$elf") in
client*) default_port=none ;;
*) default_port=5001 ;;
esac
port=${HOST_PORT:-$default_port}
netdev="user,id=n0"
if [ "$port" != none ]; then
    # The server answers TCP and UDP on 5001: forward both.
    netdev="$netdev,hostfwd=tcp:127.0.0.1:$port-:5001,hostfwd=udp:127.0.0.1:$port-:5001"
fi
set -- -machine virt -m 128M -bios none \
    -device virtio-net-device,netdev=n0 -netdev "$netdev" -kernel "$elf"
if [ -n "${SERIAL_LOG:-}" ]; then
    set -- "$@" -display none -serial "file:$SERIAL_LOG"
    [ -n "${QEMU_MONITOR:-}" ] || set -- "$@" -monitor none
else
    set -- "$@" -nographic
fi
if [ -n "${QEMU_MONITOR:-}" ]; then
    set -- "$@" -monitor "unix:$QEMU_MONITOR,server,nowait"
fi
exec "${QEMU:-qemu-system-riscv64}" "$@"
