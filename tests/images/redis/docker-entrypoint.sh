#!/bin/sh
# Like the official image: leading options go to redis-server, which runs as the
# redis user with its data in /data.
set -e
case "$1" in -*|*.conf) set -- redis-server "$@" ;; esac
# The official image is built with protected mode off (Docker publishes the port,
# so the server never sees a loopback client); Debian's build has it on.
if [ "$1" = redis-server ]; then
  case " $* " in *" --protected-mode "*) ;; *) set -- "$@" --protected-mode no ;; esac
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  chown -R redis:redis /data
  exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
