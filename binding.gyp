{
  # the CPU backend for node-gyp, where cmake is missing: the same layout as
  # CMakeLists.txt. the kernel files (native/cpu/*.cc but dispatch, memory and
  # parallel) are built once per instruction set into a static library each,
  # in their own namespace (CUDALAB_CPU_ISA), and picked at run time
  # (native/cpu/dispatch.h); the rest is built for the baseline. the libraries
  # follow the addon's objects on the link line, generic before avx2 before
  # avx512, so each shared inline function keeps its narrowest copy.
  "variables": {
    "kernel_sources": [
      "<!@(node -e \"const fs=require('fs');for(const f of fs.readdirSync('native/cpu'))if(f.endsWith('.cc')&&!['dispatch.cc','memory.cc','parallel.cc'].includes(f))console.log('native/cpu/'+f)\")"
    ]
  },
  "target_defaults": {
    "include_dirs": ["native"],
    "defines": ["NDEBUG"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fPIC"]
  },
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "cudalab",
          "sources": [
            "<!@(node -e \"const fs=require('fs');for(const f of fs.readdirSync('native'))if(f.endsWith('.cc'))console.log('native/'+f)\")",
            "native/cpu/dispatch.cc", "native/cpu/memory.cc", "native/cpu/parallel.cc"
          ],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
          "cflags_cc": ["-march=x86-64", "-mtune=generic"],
          "conditions": [["OS=='linux'", { "ldflags": ["-Wl,-z,nodelete"] }]],
          "dependencies": ["cudalab_cpu_generic", "cudalab_cpu_avx2", "cudalab_cpu_avx512"]
        },
        {
          "target_name": "cudalab_cpu_generic",
          "type": "static_library",
          "sources": ["<@(kernel_sources)"],
          "defines": ["CUDALAB_CPU_ISA=generic"],
          "cflags_cc": ["-march=x86-64", "-mtune=generic"]
        },
        {
          "target_name": "cudalab_cpu_avx2",
          "type": "static_library",
          "sources": ["<@(kernel_sources)"],
          "defines": ["CUDALAB_CPU_ISA=avx2"],
          "cflags_cc": ["-march=x86-64-v3", "-mtune=generic"]
        },
        {
          "target_name": "cudalab_cpu_avx512",
          "type": "static_library",
          "sources": ["<@(kernel_sources)"],
          "defines": ["CUDALAB_CPU_ISA=avx512"],
          "cflags_cc": ["-march=x86-64-v4", "-mtune=generic"]
        }
      ]
    }, {
      "targets": [
        {
          "target_name": "cudalab",
          "sources": [
            "<!@(node -e \"const fs=require('fs');for(const f of fs.readdirSync('native'))if(f.endsWith('.cc'))console.log('native/'+f)\")",
            "native/cpu/dispatch.cc", "native/cpu/memory.cc", "native/cpu/parallel.cc"
          ],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
          "conditions": [["OS=='linux'", { "ldflags": ["-Wl,-z,nodelete"] }]],
          "dependencies": ["cudalab_cpu_generic"]
        },
        {
          "target_name": "cudalab_cpu_generic",
          "type": "static_library",
          "sources": ["<@(kernel_sources)"],
          "defines": ["CUDALAB_CPU_ISA=generic"]
        }
      ]
    }]
  ]
}
