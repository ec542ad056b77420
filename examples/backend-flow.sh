#!/usr/bin/env bash
# The README's backend flow ("Using sessiond from a backend"), as a script:
#   npm start                                # in another terminal; it prints the admin key
#   KEY=<that key> bash examples/backend-flow.sh
# test/examples/backend-flow.test.ts runs it against a fresh server, and checks
# that the README shows exactly the lines below this header.

: "${KEY:?set KEY to the admin key npm start printed (or an API_KEYS secret)}"
S=${S:-http://127.0.0.1:3000}
# One field of the JSON on stdin (node is there: it runs sessiond; jq -r ".$1" does the same).
field() { node -p "JSON.parse(require('fs').readFileSync(0, 'utf8')).$1"; }

# 1. Log in: create a session bound to a user. 201; the token comes back once,
#    in the body and in Set-Cookie (a backend relays that header to the browser).
TOKEN=$(curl -s -X POST $S/v1/sessions -H "authorization: Bearer $KEY" \
  -H 'content-type: application/json' -d '{"userId":"alice","data":{"cart":[]}}' | field token)

# 2. Later requests forward the browser's Cookie header (or X-Session-Token);
#    each slides the idle expiry. Read, then write with the version read as
#    If-Match: 204 with the new ETag. The same write again is 412
#    precondition_failed (the session moved on) and changes nothing.
SESSION=$(curl -s $S/v1/session -H "cookie: sid=$TOKEN" -H "authorization: Bearer $KEY")
echo "$SESSION"
VERSION=$(echo "$SESSION" | field version)
curl -si -X PUT $S/v1/session/data/cart -H "cookie: sid=$TOKEN" -H "authorization: Bearer $KEY" \
  -H "if-match: \"$VERSION\"" -H 'content-type: application/json' -d '{"value":["book"]}'
curl -s -X PUT $S/v1/session/data/cart -H "cookie: sid=$TOKEN" -H "authorization: Bearer $KEY" \
  -H "if-match: \"$VERSION\"" -H 'content-type: application/json' -d '{"value":["pen"]}'; echo   # 412

# 3. Privilege change: rotate. 201 with a new token (body and Set-Cookie, relay
#    it); data and userId are kept. The old token is ended at once: for 60 s it
#    answers 401 session_rotated (its cookie is not cleared, so a parallel
#    request cannot wipe the new one), then 401 session_not_found.
NEW_TOKEN=$(curl -s -X POST $S/v1/session/rotate -H "cookie: sid=$TOKEN" -H "authorization: Bearer $KEY" | field token)
curl -s $S/v1/session -H "cookie: sid=$TOKEN" -H "authorization: Bearer $KEY"; echo             # 401 session_rotated
curl -s $S/v1/session/data/cart -H "cookie: sid=$NEW_TOKEN" -H "authorization: Bearer $KEY"; echo   # the cart, kept

# 4. Log out with the new token: 204 and a Set-Cookie that clears the cookie.
curl -si -X DELETE $S/v1/session -H "cookie: sid=$NEW_TOKEN"
