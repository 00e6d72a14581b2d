{
  "targets": [
    {
      "target_name": "cudalab",
      "sources": [
        "<!@(node -e \"const fs=require('fs');for(const d of ['native','native/cpu'])for(const f of fs.readdirSync(d))if(f.endsWith('.cc'))console.log(d+'/'+f)\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NDEBUG"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno"],
      "conditions": [
        ["target_arch=='x64'", { "cflags_cc": ["-march=x86-64-v3", "-mtune=generic"] }],
        ["OS=='linux'", { "ldflags": ["-Wl,-z,nodelete"] }]
      ]
    }
  ]
}
