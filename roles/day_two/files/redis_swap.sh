#!/bin/sh
# Puts the Redis data staged by restore.yml (/scratch, read-only) in place of
# the live data (/live) of a stopped Redis, in one rename, and can be run again
# at any point: a run killed anywhere leaves the old or the restored data.
#   redis_swap.sh <restore id> <appendfilename> <appendonly yes|no>
#
# With AOF (appendonly yes), Redis 7+ loads what appendonlydir/<appendfilename>.manifest
# lists. The staged base and increment files are copied in beside the live
# ones, under sequence numbers above every live one (so neither they nor the
# files Redis writes later take a live file's name), then a new manifest
# listing them is renamed over the live manifest: that rename is the swap.
# The snapshot dump.rdb is replaced the same way, first; without AOF its
# rename is the swap. Files no manifest lists any more are removed at the end.
set -eu
id="$1"
af="$2"
aof="$3"
d=/live/appendonlydir
m="$d/$af.manifest"
marker="$d/.integrador-restore-$id"

if ! cmp -s /scratch/dump.rdb /live/dump.rdb 2>/dev/null; then
  cp -p /scratch/dump.rdb "/live/.dump.rdb.$id"
  sync
  mv -f "/live/.dump.rdb.$id" /live/dump.rdb
fi

if [ "$aof" = yes ]; then
  if [ -f "$marker" ] && [ -f "$m" ] && cmp -s "$marker" "$m"; then
    echo "already in place"
  else
    mkdir -p "$d"
    max=0
    for f in "$d"/*; do
      [ -e "$f" ] || continue
      seq=$(basename "$f" | sed -n -e 's/^.*\.\([0-9][0-9]*\)\.base\..*$/\1/p' -e 's/^.*\.\([0-9][0-9]*\)\.incr\..*$/\1/p')
      if [ -n "$seq" ] && [ "$seq" -gt "$max" ]; then max=$seq; fi
    done
    n=$((max + 1))
    : > "$d/.manifest.$id"
    # Manifest lines: file <name> seq <n> type <b|h|i>; history (h) files are not data.
    while read -r _ file _ _ _ type; do
      case "$type" in h | "h "*) continue ;; esac
      rest=${file#"$af".}
      new="$af.$n.${rest#*.}"
      cp -p "/scratch/appendonlydir/$file" "$d/.$new.tmp"
      mv -f "$d/.$new.tmp" "$d/$new"
      echo "file $new seq $n type $type" >> "$d/.manifest.$id"
    done < "/scratch/appendonlydir/$af.manifest"
    chown --reference="/scratch/appendonlydir/$af.manifest" "$d/.manifest.$id" 2>/dev/null || true
    cp -p "$d/.manifest.$id" "$marker"
    sync
    mv -f "$d/.manifest.$id" "$m"
    sync
    echo "swapped"
  fi
  # What the manifest does not list is the old data (or a killed run's copies).
  for f in "$d"/* "$d"/.[!.]*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    [ "$name" = "$af.manifest" ] && continue
    [ "$f" = "$marker" ] && continue
    grep -q "^file $name seq " "$m" || rm -f "$f"
  done
else
  echo "swapped (snapshot)"
fi
