#!/bin/sh
# Stands in for an Envoy that dies while starting.
echo "exits_at_once: giving up" >&2
exit 1
