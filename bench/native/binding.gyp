{
  "targets": [
    {
      "target_name": "rustplug_bench",
      "sources": ["pingpong.cc", "floor.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpthread", "-ldl"]
    }
  ]
}
