#!/usr/bin/env python3
"""Writes a C++ source holding the CRD files as string literals (one schema for the embedded
API and for real clusters). Usage: embed_crds.py OUT.cpp CRD.yaml..."""
import sys

out, paths = sys.argv[1], sys.argv[2:]
with open(out, "w") as f:
    f.write("// Generated from assets/crds by src/kube/embed_crds.py.\n#include <string>\n#include <vector>\n")
    f.write("namespace ironboot::kube {\nconst std::vector<std::string>& embedded_crd_texts() {\n")
    f.write("  static const std::vector<std::string> texts = {\n")
    for p in paths:
        data = open(p, encoding="utf-8").read()
        f.write('    std::string(R"IRONBOOTCRD(' + data + ')IRONBOOTCRD"),\n')
    f.write("  };\n  return texts;\n}\n}  // namespace ironboot::kube\n")
