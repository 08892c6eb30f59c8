# Prints one line per failed assertion of a TAP 14 stream (its subtest path and source line, then the first lines
# of its diff or values), so that the last lines of a CI log name what failed. A subtest's own "not ok" only repeats
# its children's failures and is left out.
function indent(s) { match(s, /^ */); return RLENGTH }
/^ *# Subtest: / { d = indent($0) / 4; sub(/^ *# Subtest: /, ""); path[d] = $0; next }
/^ *(not )?ok [0-9]+ - .*# (TODO|SKIP)/ || /^ *ok [0-9]+ / { inyaml = 0; next }
/^ *not ok [0-9]+ - / {
  d = indent($0) / 4; name = $0; sub(/^ *not ok [0-9]+ - /, "", name); sub(/ # time=.*/, "", name)
  p = ""; for (i = 0; i < d; i++) p = p path[i] " > "
  pending = p name; where = ""; detail = ""; inyaml = 1; indiff = 0; ndetail = 0; next
}
!inyaml { next }
/^ *fileName: / && where == "" { f = $0; sub(/^ *fileName: /, "", f); where = f; next }
/^ *lineNumber: / && where !~ /:[0-9]+$/ { l = $0; sub(/^ *lineNumber: /, "", l); where = where ":" l; next }
/^ *diff: \|/ { indiff = 1; next }
/^ *(found|wanted|message|code|signal|error): ./ && ndetail < 3 { x = $0; sub(/^ */, "", x); detail = detail "\n    " x; ndetail++; next }
indiff && /^ *[-+][^-+]/ && ndetail < 4 { x = $0; sub(/^ */, "", x); detail = detail "\n    " x; ndetail++; next }
/^ *[a-z]+: / { indiff = 0 }
/^ *\.\.\.$/ {
  parent = 0; for (q in seen) if (index(q, pending " > ") == 1) parent = 1
  if (!parent && n < 20) { seen[pending] = 1; n++; print "FAIL " pending (where ? " (" where ")" : "") detail }
  inyaml = 0
}
