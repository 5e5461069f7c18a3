#!/usr/bin/env bash
# The README's key table is `ticketfarm keys`, so the documented keys cannot drift from the code.
#   tests/readme.sh path/to/ticketfarm [--update]
set -euo pipefail
TF=$1
README=$(dirname "$0")/../README.md
want=$("$TF" keys)
have=$(sed -n '/<!-- keys:begin -->/,/<!-- keys:end -->/p' "$README" | sed '1d;$d')
if [ "${2:-}" = --update ]; then
  /usr/bin/python3 - "$README" <<PY
import sys
path = sys.argv[1]
text = open(path).read()
a = text.index("<!-- keys:begin -->") + len("<!-- keys:begin -->")
b = text.index("<!-- keys:end -->")
open(path, "w").write(text[:a] + "\n" + """$want""" + "\n" + text[b:])
PY
  exit 0
fi
if [ "$want" != "$have" ]; then
  diff <(echo "$want") <(echo "$have") | head -20
  echo "FAIL  README.md's key table differs from 'ticketfarm keys' (tests/readme.sh TF --update)"
  exit 1
fi
echo "ok    README.md documents every sweep key as 'ticketfarm keys' prints it ($(echo "$want" | wc -l) lines)"
