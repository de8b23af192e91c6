#!/usr/bin/env python3
"""Compiles the iPXE script templates (assets/ipxe/*.ipxe) into a C++ source file, so the
daemon carries them and needs no data directory at run time."""
import os
import sys

out, inputs = sys.argv[1], sys.argv[2:]
with open(out, "w") as f:
    f.write("// Generated from assets/ipxe by embed_templates.py; do not edit.\n")
    f.write('#include "ipxe/script.hpp"\n\nnamespace ironboot {\n\n')
    f.write("const std::vector<EmbeddedTemplate>& embedded_templates() {\n")
    f.write("  static const std::vector<EmbeddedTemplate> templates = {\n")
    for path in inputs:
        name = os.path.basename(path)
        with open(path) as t:
            text = t.read()
        if ")ironboot\"" in text:
            sys.exit(f"{path}: contains the raw string delimiter")
        f.write(f'      {{"{name}", R"ironboot({text})ironboot"}},\n')
    f.write("  };\n  return templates;\n}\n\n}  // namespace ironboot\n")
