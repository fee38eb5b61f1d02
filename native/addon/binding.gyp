{
  "targets": [
    {
      "target_name": "berth_native",
      "sources": ["csrc/berth_native.c", "csrc/copy_tree.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "libraries": ["-ldeflate"]
    }
  ]
}
