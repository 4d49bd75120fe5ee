#!/bin/bash
# Stand-in for the Debian gpiod tools (gpiodetect, gpiofind, gpioinfo, gpioget, gpioset, gpiomon), linked
# under each tool's name in <root>/bin; test/gpio/fake-gpiod.ts describes the state files in <root>/state.
# It prints what libgpiod v1 (1.6.3) or v2 (2.1) prints, as <root>/state/version says.
STATE="$(cd "$(dirname "$0")/.." && pwd)/state"
VERSION=$(cat "$STATE/version")
tool=$(basename "$0")
# one write per call, so calls of tools running at the same time do not interleave
entry="$tool"; for a in "$@"; do entry+=$'\t'"$a"; done
printf '%s\n' "$entry" >> "$STATE/calls"
if [ "$1" = "--version" ]; then
  if [ "$VERSION" = 1 ]; then echo "$tool (libgpiod) v1.6.3"; else echo "$tool (libgpiod) v2.1.3"; fi
  echo "Copyright (C) 2017-2023 Bartosz Golaszewski"
  exit 0
fi
# the line's chip and offset: v2 names the chip with -c; v1 ends with "chip offset" (or "chip offset=value")
chip=""; last="${!#}"
if [ "$VERSION" = 2 ]; then
  prev=""; for a in "$@"; do [ "$prev" = "-c" ] && chip="$a"; prev="$a"; done
elif [ $# -ge 2 ]; then
  chip="${@:$#-1:1}"
fi
offset="${last%%=*}"; value="${last#*=}"
key="$chip-$offset"
# the kernel gives a requested line to one holder only, and takes it back when the holder dies
busy() {
  [ -e "$STATE/held/$key" ] || return 0
  read -r _ _ pid < "$STATE/held/$key"
  if [ "$pid" = "-" ] || kill -0 "$pid" 2>/dev/null; then echo "$tool: unable to request lines: Device or resource busy" >&2; exit 1; fi
  rm -f "$STATE/held/$key"
}
hold() {
  echo "$tool $1 $$" > "$STATE/held/$key"
  trap 'kill $child 2>/dev/null; rm -f "$STATE/held/$key"; exit 0' TERM INT
}
case "$tool" in
  gpiodetect) cat "$STATE/chips" ;;
  gpiofind)
    line=$(grep "^$1 " "$STATE/names") || exit 1
    echo "${line#* }" ;;
  gpioinfo)
    if [ "$VERSION" = 2 ]; then
      line=$(grep "^$last " "$STATE/names") || { echo "gpioinfo: cannot find line '$last'" >&2; exit 1; }
      set -- $line; printf '%s %s\t"%s"\tinput\n' "$2" "$3" "$1"
    else
      echo "$1 - 64 lines:"
      for f in "$STATE"/held/"$1"-*; do
        [ -e "$f" ] || continue
        read -r who dir pid < "$f"; o="${f##*-}"
        kill -0 "$pid" 2>/dev/null || continue
        printf '\tline %3s: %12s %12s %8s active-high [used]\n' "$o" unnamed "\"$who\"" "$dir"
      done
      printf '\tline %3s: %12s %12s %8s active-high\n' 63 '"SPARE"' unused input
    fi ;;
  gpioget) busy; cat "$STATE/level/$key" 2>/dev/null || echo 0 ;;
  gpioset)
    busy; echo "$value" > "$STATE/level/$key"; hold output
    [ "$VERSION" = 2 ] && echo "Setting line '$offset'..."
    # helpers end with this process (--pid) even if it is killed without running the trap
    tail -f /dev/null --pid=$$ & child=$!; wait $child ;;
  gpiomon)
    busy; : > "$STATE/events/$key"; hold input
    [ "$VERSION" = 2 ] && echo "Monitoring line '$offset'..."
    tail -n +1 -F "$STATE/events/$key" --pid=$$ 2>/dev/null & child=$!; wait $child ;;
  *) echo "fake-gpiod: unknown tool $tool" >&2; exit 2 ;;
esac
