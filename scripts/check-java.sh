#!/usr/bin/env bash
# Spark needs Java 17 or newer. Fail with a message a person can act on, not a JVM stack trace.
set -euo pipefail
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if ! command -v "$java_bin" >/dev/null 2>&1; then
  echo "error: Java 17+ is required (Spark runs on the JVM) but 'java' was not found." >&2
  echo "       Install a JDK 17 (e.g. 'apt-get install openjdk-17-jre-headless' or 'brew install openjdk@17')" >&2
  echo "       and put it on PATH or set JAVA_HOME." >&2
  exit 1
fi
version=$("$java_bin" -version 2>&1 | awk -F '"' '/version/ {print $2; exit}')
major=${version%%.*}
if [ "$major" = "1" ]; then major=$(echo "$version" | cut -d. -f2); fi
if ! [[ "$major" =~ ^[0-9]+$ ]] || [ "$major" -lt 17 ]; then
  echo "error: Java 17+ is required, found '${version:-unknown}' at $(command -v "$java_bin")." >&2
  exit 1
fi
