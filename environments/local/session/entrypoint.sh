#!/bin/bash
# Start script of the StreamSpace session image: a TigerVNC server on :0 (port 5900) and the
# keyboard display program on it. SIGTERM/SIGINT stop both at once, so `stop` is fast.
#   VNC_GEOMETRY  screen size (default 1024x768)
#   VNC_PASSWORD  if set, VNC authentication with this password; else no authentication
set -u

geometry="${VNC_GEOMETRY:-1024x768}"
security=(-SecurityTypes None)
if [ -n "${VNC_PASSWORD:-}" ]; then
    mkdir -p /run/vnc
    umask 077
    printf '%s\n%s\n' "$VNC_PASSWORD" "$VNC_PASSWORD" | /usr/bin/vncpasswd -f > /run/vnc/passwd
    umask 022
    security=(-SecurityTypes VncAuth -rfbauth /run/vnc/passwd)
fi
unset VNC_PASSWORD

# a restarted container keeps /tmp: an old lock would stop the X server
rm -f /tmp/.X0-lock /tmp/.X11-unix/X0

children=()
stop() {
    kill -TERM "${children[@]}" 2>/dev/null
    wait
    exit 0
}
trap stop TERM INT

/usr/bin/Xtigervnc :0 -rfbport 5900 "${security[@]}" -geometry "$geometry" -depth 24 \
    -AlwaysShared -nolisten tcp -desktop streamspace-session &
children+=($!)

DISPLAY=:0 /usr/bin/python3 /opt/streamspace/keyboard_display.py &
children+=($!)

# whichever ends first ends the session
wait -n
code=$?
kill -TERM "${children[@]}" 2>/dev/null
wait
exit "$code"
