#!/usr/bin/env bash
# Java for the Spark path of `riskengine rerate --engine spark` (pyspark 4 needs Java 17+).
# Does nothing when Java 17 or newer is already on PATH; otherwise installs Debian's
# headless JRE with apt-get (needs root, as on the project's machines and CI).
set -euo pipefail

java_major() {
    java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}

if command -v java >/dev/null 2>&1 && [ "$(java_major)" -ge 17 ]; then
    echo "install_java: $(java -version 2>&1 | head -n 1) already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_java: no Java >= 17 and no apt-get; install a Java 17+ runtime by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# the newest headless JRE the distribution ships among 17 and 21
pkg=$(apt-cache search --names-only '^openjdk-(17|21)-jre-headless$' | awk '{print $1}' | sort | tail -n 1)
if [ -z "$pkg" ]; then
    echo "install_java: no openjdk-17/21-jre-headless package found" >&2
    exit 1
fi
$SUDO apt-get install -y -qq --no-install-recommends "$pkg"
echo "install_java: installed $pkg: $(java -version 2>&1 | head -n 1)"
