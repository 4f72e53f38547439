{
  "targets": [
    {
      "target_name": "rustplug",
      "sources": [
        "native/addon.cc",
        "native/dlfcn.cc",
        "native/library.cc",
        "native/loader.cc",
        "native/symbol.cc",
        "native/sync_symbol.cc",
        "native/abi/facts.cc",
        "native/call/args.cc",
        "native/call/x86_64_sysv.cc",
        "native/call/unsupported.cc",
        "native/callback_guard.cc",
        "native/callbacks/callback.cc",
        "native/callbacks/js_future.cc",
        "native/callbacks/trampolines_x86_64.cc",
        "native/callbacks/trampolines_none.cc",
        "native/drivers/scalar.cc",
        "native/drivers/struct_js.cc",
        "native/runtime/hub.cc",
        "native/runtime/ready_queue.cc",
        "native/runtime/waker.cc"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "libraries": ["-ldl", "-lpthread"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
