#!/usr/bin/env bash
# Quick start, command one: set up the environment and build everything on the bundled data.
# Extra arguments go to `dbt build`, e.g. --vars '{input_dir: /path/to/files}'.
source "$(dirname "$0")/env.sh"
customer-analytics build "$@"
