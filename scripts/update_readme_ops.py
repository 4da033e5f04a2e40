#!/usr/bin/python3
"""Replaces the text between <!-- ops:begin --> and <!-- ops:end --> in README.md with
`pare ops --markdown`. Usage: update_readme_ops.py PARE README.md"""
import re
import subprocess
import sys

pare, readme = sys.argv[1], sys.argv[2]
table = subprocess.run([pare, "ops", "--markdown"], check=True, capture_output=True, text=True).stdout
text = open(readme).read()
new = re.sub(r"<!-- ops:begin -->.*<!-- ops:end -->",
             lambda _: "<!-- ops:begin -->\n" + table + "<!-- ops:end -->", text, flags=re.S)
open(readme, "w").write(new)
