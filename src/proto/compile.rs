//! Turning schemas into descriptor pools: `.proto` sources compiled from memory,
//! `.proto` files read from disk for a check, and serialized descriptor sets.
//! Pools from memory and from descriptor sets go through the one bounded
//! [`Pools`] cache.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use prost_reflect::DescriptorPool;

use super::cache::{KeyBuilder, Pools};
use super::guard::{
    MAX_PROTO_FILES, Memory, check_nesting, guarded_compiler, on_proto_stack, read_under, refused,
    too_many_given,
};
use super::{ProtoError, error};

/// Compiles `roots` from in-memory `files` (import name → source; the
/// well-known types need not be given), once per distinct input: later calls
/// with the same sources get the kept pool.
pub fn compile(
    roots: &[String],
    files: &BTreeMap<String, String>,
) -> Result<Arc<DescriptorPool>, ProtoError> {
    compile_in(Pools::shared(), roots, files)
}

/// [`compile`] with the pools kept in `pools`.
pub fn compile_in(
    pools: &Pools,
    roots: &[String],
    files: &BTreeMap<String, String>,
) -> Result<Arc<DescriptorPool>, ProtoError> {
    let mut key = KeyBuilder::default()
        .part(b"sources")
        .part(&(roots.len() as u64).to_le_bytes());
    for root in roots {
        key = key.part(root.as_bytes());
    }
    for (name, source) in files {
        key = key.part(name.as_bytes()).part(source.as_bytes());
    }
    pools.get_or_make(key.finish(), || {
        if files.len() > MAX_PROTO_FILES {
            return Err(too_many_given(files.len()));
        }
        on_proto_stack(|| compile_here(roots, files)).map_err(ProtoError::unplaced)?
    })
}

fn compile_here(
    roots: &[String],
    files: &BTreeMap<String, String>,
) -> Result<DescriptorPool, ProtoError> {
    for (name, source) in files {
        check_nesting(name, source)?;
    }
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(Memory(files.clone()));
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    // The pool keeps where each element was written whatever this says (it
    // only shapes an encoded set); Forge reads comments and places from it.
    compiler.include_imports(true).include_source_info(true);
    let names: Vec<&str> = roots.iter().map(String::as_str).collect();
    compiler
        .open_files(names)
        .map_err(|e| error(e, &|n: &str| n.to_string(), &|n| files.get(n).cloned()))?;
    Ok(compiler.descriptor_pool())
}

/// Reads `proto` (relative to `base_dir`) and everything it imports, except the
/// well-known types protox carries itself, behind the same guards as a compile.
/// Returns the root's import name and the sources by import name. Blocking:
/// async callers run it off their threads.
pub fn read_sources(
    proto: &str,
    import_paths: &[String],
    base_dir: &Path,
) -> Result<(String, BTreeMap<String, String>), String> {
    on_proto_stack(|| read_sources_here(proto, import_paths, base_dir))?
}

fn read_sources_here(
    proto: &str,
    import_paths: &[String],
    base_dir: &Path,
) -> Result<(String, BTreeMap<String, String>), String> {
    let path = base_dir.join(proto);
    let dir = path.parent().unwrap_or(base_dir).to_path_buf();
    let mut includes = vec![dir];
    includes.extend(import_paths.iter().map(|p| base_dir.join(p)));
    // Sources nested too deeply are refused before protox recurses into them.
    let (mut compiler, refusal) = guarded_compiler(&includes);
    let texts = includes.clone();
    compiler.open_file(&path).map_err(|e| {
        if let Some(e) = refused(&refusal) {
            return e.to_string();
        }
        error(e, &|n: &str| n.to_string(), &|n| read_under(&texts, n)).to_string()
    })?;
    let mut files = BTreeMap::new();
    let mut root = None;
    for file in compiler.files() {
        let Some(p) = file.path() else { continue };
        let source = std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read `{}`: {e}", p.display()))?;
        if !file.is_import() {
            root = Some(file.name().to_string());
        }
        files.insert(file.name().to_string(), source);
    }
    let root = root.ok_or_else(|| format!("`{proto}` was not compiled"))?;
    Ok((root, files))
}

/// The most a descriptor set file may weigh: far above any real API's.
pub const MAX_DESCRIPTOR_SET_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a descriptor set file (relative to `base_dir`) and returns it
/// base64-encoded. Blocking: async callers run it off their threads.
pub fn read_descriptor_set(path: &str, base_dir: &Path) -> Result<String, String> {
    let full = base_dir.join(path);
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read `{}`: {e}", full.display());
    let size = std::fs::metadata(&full).map_err(|e| cannot(&e))?.len();
    if size > MAX_DESCRIPTOR_SET_BYTES {
        return Err(format!(
            "`{}` is {size} bytes, more than the limit of {MAX_DESCRIPTOR_SET_BYTES}",
            full.display()
        ));
    }
    let bytes = std::fs::read(&full).map_err(|e| cannot(&e))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Decodes a base64-encoded `FileDescriptorSet`, once per distinct content.
pub fn decode_set(encoded: &str) -> Result<Arc<DescriptorPool>, String> {
    decode_set_in(Pools::shared(), encoded)
}

/// [`decode_set`] with the pools kept in `pools`.
pub fn decode_set_in(pools: &Pools, encoded: &str) -> Result<Arc<DescriptorPool>, String> {
    let key = KeyBuilder::default()
        .part(b"descriptor set")
        .part(encoded.as_bytes())
        .finish();
    pools.get_or_make(key, || {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("not valid base64: {e}"))?;
        DescriptorPool::decode(bytes.as_slice()).map_err(|e| {
            let e = e.to_string();
            if e.contains("has not been added") || e.contains("not found") {
                format!(
                    "not a complete FileDescriptorSet: {e} (write it with `protoc --include_imports`)"
                )
            } else {
                format!("not a FileDescriptorSet: {e}")
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, source: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(name.to_string(), source.to_string())])
    }

    #[test]
    fn inline_sources_nested_too_deep_are_refused() {
        let source = format!(
            "syntax = \"proto2\";\nimport \"google/protobuf/descriptor.proto\";\n\
             message N {{ optional N a = 1; }} extend google.protobuf.MessageOptions {{ optional N my = 50000; }}\n\
             message R {{ option (my) = {}{}; }}\n",
            "{ a ".repeat(2000),
            "} ".repeat(2000)
        );
        let files = one("deep.proto", &source);
        let err = compile(&["deep.proto".into()], &files)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("deep.proto:4:") && err.contains("nest more than 64"),
            "{err}"
        );
    }

    #[test]
    fn a_kept_compile_is_not_compiled_again_and_a_changed_one_is() {
        let pools = Pools::new(4);
        let roots = ["a.proto".to_string()];
        let files = one(
            "a.proto",
            "syntax = \"proto3\";\nmessage A { string s = 1; }\n",
        );
        let first = compile_in(&pools, &roots, &files).unwrap();
        let again = compile_in(&pools, &roots, &files).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(pools.made(), 1);
        // Forge reads comments and places from the same pool a check uses.
        let info = first
            .get_file_by_name("a.proto")
            .and_then(|f| f.file_descriptor_proto().source_code_info.clone());
        assert!(info.is_some());
        let changed = one(
            "a.proto",
            "syntax = \"proto3\";\nmessage B { string s = 1; }\n",
        );
        let other = compile_in(&pools, &roots, &changed).unwrap();
        assert_eq!(pools.made(), 2);
        assert!(other.get_message_by_name("B").is_some());
    }

    #[test]
    fn a_descriptor_set_is_decoded_once_and_errors_say_what_it_lacks() {
        let pools = Pools::new(4);
        let files = one("a.proto", "syntax = \"proto3\";\nmessage A {}\n");
        let pool = compile_in(&pools, &["a.proto".into()], &files).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(pool.encode_to_vec());
        let decoded = decode_set_in(&pools, &encoded).unwrap();
        assert!(decoded.get_message_by_name("A").is_some());
        decode_set_in(&pools, &encoded).unwrap();
        assert_eq!(pools.made(), 2);
        let e = decode_set_in(&pools, "%%").unwrap_err();
        assert!(e.starts_with("not valid base64"), "{e}");
    }

    #[test]
    fn more_in_memory_files_than_the_bound_are_refused_before_compiling() {
        let files: BTreeMap<String, String> = (0..=MAX_PROTO_FILES)
            .map(|i| (format!("f{i}.proto"), "syntax = \"proto3\";".to_string()))
            .collect();
        let e = compile(&["f0.proto".into()], &files).unwrap_err();
        assert!(
            e.message.contains("501 .proto files given; at most 500"),
            "{e}"
        );
    }
}
