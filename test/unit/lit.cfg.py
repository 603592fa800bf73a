# -*- Python -*-
# Runs moec's GoogleTest binaries (*Tests) as part of the lit suite.

import os

import lit.formats

config.name = "moec-unit"
config.suffixes = []
config.test_exec_root = os.path.join(config.moec_obj_root, "test", "unit")
config.test_source_root = config.test_exec_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
