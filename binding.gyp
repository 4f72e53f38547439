{
  "targets": [
    {
      "target_name": "rustplug",
      "sources": [
        "native/addon.cc",
        "native/dlfcn.cc",
        "native/hub.cc",
        "native/waker.cc",
        "native/pingpong.cc",
        "native/future_call.cc",
        "native/callback_guard.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-ldl", "-lpthread"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
