//! Forge over 100 generated `.proto` files: compile, sample, render YAML.
//!
//!     cargo bench --bench forge -- [--files 100] [--runs 7]
//!
//! Writes N files (each its own package importing a shared one, a service of
//! five methods, nested, repeated, map, oneof and well-known-type fields) to a
//! temporary directory and runs the whole of `forge generate -o DIR` in
//! process R times: loading with protox, building the model with sample
//! requests, rendering one YAML file per service and writing them. Prints one
//! line per run with the time of each phase, then the medians.

use std::path::PathBuf;
use std::time::Instant;

use uptimeping::forge::{self, Filter, Format, ProtoRefs, Settings, load, model, templates};

fn options() -> (usize, usize) {
    let (mut files, mut runs) = (100, 7);
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    for pair in args.chunks(2) {
        let v = pair
            .get(1)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("`{}` needs a number", pair[0]));
        match pair[0].as_str() {
            "--files" => files = v,
            "--runs" => runs = v.max(1),
            other => panic!("unknown argument `{other}`; use --files N --runs R"),
        }
    }
    (files, runs)
}

const COMMON: &str = r#"syntax = "proto3";
package bench.common;
import "google/protobuf/timestamp.proto";
// A page of results.
message Page { uint32 size = 1; string token = 2; }
enum Kind { KIND_UNSPECIFIED = 0; SMALL = 1; LARGE = 2; }
message Meta { google.protobuf.Timestamp at = 1; map<string, string> labels = 2; Kind kind = 3; }
"#;

fn service_file(n: usize) -> String {
    format!(
        r#"syntax = "proto3";
package bench.p{n};
import "common.proto";
import "google/protobuf/duration.proto";

// Service number {n}.
service Service{n} {{
  // Reads one.
  rpc Get(GetRequest) returns (Item);
  rpc List(ListRequest) returns (stream Item);
  rpc Update(Item) returns (Item);
  rpc Delete(GetRequest) returns (Item);
  rpc Upload(stream Item) returns (Item);
}}

message GetRequest {{ string id = 1; bench.common.Meta meta = 2; }}
message ListRequest {{ bench.common.Page page = 1; repeated string ids = 2; google.protobuf.Duration within = 3; }}
message Item {{
  message Part {{ string name = 1; int64 size = 2; repeated Part parts = 3; }}
  string id = 1;
  repeated Part parts = 2;
  map<string, Part> by_name = 3;
  oneof owner {{ string user = 4; string team = 5; }}
  optional double score = 6;
  bench.common.Meta meta = 7;
}}
"#
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (files, runs) = options();
    let dir = tempfile::tempdir().expect("tempdir");
    let protos_dir = dir.path().join("protos");
    std::fs::create_dir_all(&protos_dir).expect("mkdir");
    std::fs::write(protos_dir.join("common.proto"), COMMON).expect("write");
    let mut paths: Vec<PathBuf> = Vec::new();
    for n in 0..files {
        let p = protos_dir.join(format!("service{n:03}.proto"));
        std::fs::write(&p, service_file(n)).expect("write");
        paths.push(p);
    }
    let out = dir.path().join("checks");
    let settings = Settings {
        target: "localhost:50051".into(),
        schedule: "1m".into(),
        timeout: "5s".into(),
        tls: false,
        health: true,
    };
    println!("forge generate: {files} proto files, {runs} runs");
    let (mut totals, mut loads, mut models, mut renders) = (vec![], vec![], vec![], vec![]);
    let mut checks = 0;
    for run in 1..=runs {
        let start = Instant::now();
        let (protos, includes) =
            load::from_disk(&paths, std::slice::from_ref(&protos_dir)).expect("protos compile");
        let loaded = start.elapsed();
        // Every method, writes too: the same work whatever the names are.
        let all = Filter {
            include_writes: true,
            ..Filter::default()
        };
        let services = model::build(&protos, &all, &uptimeping::forge::values::Values::default())
            .expect("model");
        let modelled = start.elapsed();
        let tpl = templates::Templates::new(None).expect("templates");
        let refs = ProtoRefs {
            protos: protos
                .roots
                .iter()
                .map(|r| (r.clone(), format!("../protos/{r}")))
                .collect(),
            import_paths: vec![load::relative(&includes[0], &load::absolute(&out))],
        };
        let written = forge::yaml::render(&services, &settings, &refs, Format::Yaml, true, &tpl)
            .expect("render");
        std::fs::create_dir_all(&out).expect("mkdir");
        for f in &written {
            std::fs::write(out.join(&f.path), &f.content).expect("write");
        }
        let total = start.elapsed();
        checks = written
            .iter()
            .map(|f| f.content.matches("kind: Check").count())
            .sum();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        println!(
            "run {run}: total {:7.1} ms  (load {:6.1} ms, model {:6.1} ms, render+write {:6.1} ms)",
            ms(total),
            ms(loaded),
            ms(modelled - loaded),
            ms(total - modelled)
        );
        totals.push(ms(total));
        loads.push(ms(loaded));
        models.push(ms(modelled - loaded));
        renders.push(ms(total - modelled));
    }
    println!(
        "median: total {:.1} ms for {files} files and {checks} checks (load {:.1} ms, model {:.1} ms, render+write {:.1} ms)",
        median(totals),
        median(loads),
        median(models),
        median(renders)
    );
}
