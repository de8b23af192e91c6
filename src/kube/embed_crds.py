#!/usr/bin/env python3
"""Writes a C++ source holding the CRD files (assets/crds) and the built-in type definitions
(src/kube/types, CRD-shaped) as string literals: one schema for the embedded API and for real
clusters. Usage: embed_crds.py OUT.cpp --crds CRD.yaml... --types TYPE.yaml..."""
import sys

out, args = sys.argv[1], sys.argv[2:]
groups = {"--crds": [], "--types": []}
current = None
for a in args:
    if a in groups:
        current = groups[a]
    elif current is None:
        sys.exit("embed_crds.py: a file before --crds/--types: " + a)
    else:
        current.append(a)


def emit(f, function, paths):
    f.write("const std::vector<std::string>& " + function + "() {\n")
    f.write("  static const std::vector<std::string> texts = {\n")
    for p in paths:
        data = open(p, encoding="utf-8").read()
        if ")IRONBOOTCRD\"" in data:
            sys.exit("embed_crds.py: delimiter inside " + p)
        f.write('    std::string(R"IRONBOOTCRD(' + data + ')IRONBOOTCRD"),\n')
    f.write("  };\n  return texts;\n}\n")


with open(out, "w") as f:
    f.write("// Generated from assets/crds and src/kube/types by src/kube/embed_crds.py.\n")
    f.write("#include <string>\n#include <vector>\nnamespace ironboot::kube {\n")
    emit(f, "embedded_crd_texts", groups["--crds"])
    emit(f, "embedded_type_texts", groups["--types"])
    f.write("}  // namespace ironboot::kube\n")
