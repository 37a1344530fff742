# Sourced by the TAP shell tests: a scratch directory $T removed on exit,
# and ok/bad, which number the cases; bad also counts $fails and shows
# $T/log (what the failed step printed) as TAP comments.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$T/log"; }
