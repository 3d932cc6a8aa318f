//! The demo apps' code: small real git repositories made once under
//! `<data>/demo-repos/<slug>`, so demo previews check out, build, migrate
//! and run their own branch. Each app's `main` and each feature branch
//! differ visibly (the page's headline names the branch; two branches add a
//! migration with extra rows), and pull requests #7 and #12 have heads.
//! The workload is the portal's own `eod sample-app`, which serves the
//! checkout's built `index.html` with rows from the environment's database.

use app::ssr::demo::{DemoRepo, DemoRepos, BRANCHES};
use std::collections::BTreeMap;
use std::path::Path;

/// The blueprint every demo app uses (JSON, as stored on the app).
pub const DEMO_BLUEPRINT: &str = r#"{"build":"sed \"s/__BUILT_AT__/$(date -u +%Y-%m-%dT%H:%M:%SZ)/\" page.html > index.html","start":"eod sample-app","health_path":"/healthz","database":{"seed_file":"db/seed.sql","migrate":"eod sample-app migrate"}}"#;

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=EoD demo", "-c", "user.email=demo@eod.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn page(app_name: &str, branch: &str, headline: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{{{env_name}}}} · {app_name}</title></head>
<body style="font-family:system-ui;max-width:42rem;margin:3rem auto;line-height:1.5">
<h1 data-testid="headline">{app_name}: {headline}</h1>
<p>Branch <strong data-testid="branch">{branch}</strong> at commit <code data-testid="commit">{{{{commit}}}}</code>,
environment <strong data-testid="env-name">{{{{env_name}}}}</strong> on tier <strong data-testid="env-tier">{{{{tier}}}}</strong>.</p>
<p>Built at __BUILT_AT__.</p>
<p>Its database holds <strong data-testid="row-count">{{{{rows}}}}</strong> rows:</p>
{{{{items}}}}
</body></html>
"#
    )
}

fn seed_sql() -> String {
    let rows: Vec<String> = (1..=42).map(|i| format!("({i}, 'item {i}')")).collect();
    format!(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO items (id, name) VALUES {};\n",
        rows.join(", ")
    )
}

fn write(dir: &Path, path: &str, text: &str) -> Result<(), String> {
    let file = dir.join(path);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(&file, text).map_err(|e| format!("writing {path}: {e}"))
}

/// Makes (once) and reads the demo apps' repositories.
pub fn ensure(data_dir: &Path, apps: &[(&str, &str)]) -> Result<DemoRepos, String> {
    let root = std::path::absolute(data_dir.join("demo-repos")).map_err(|e| e.to_string())?;
    let mut repos = BTreeMap::new();
    for (slug, name) in apps {
        let dir = root.join(slug);
        if !dir.join(".git").exists() {
            make(&dir, name).map_err(|e| format!("demo repository {slug}: {e}"))?;
        }
        let mut branches = BTreeMap::new();
        for line in git(&dir, &["for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads"])?.lines() {
            if let Some((b, sha)) = line.split_once(' ') {
                branches.insert(b.to_string(), sha.to_string());
            }
        }
        repos.insert(slug.to_string(), DemoRepo { path: dir.display().to_string(), branches });
    }
    Ok(DemoRepos(repos))
}

fn make(dir: &Path, app_name: &str) -> Result<(), String> {
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    git(&tmp, &["init", "--quiet", "--initial-branch=main"])?;
    write(&tmp, "page.html", &page(app_name, "main", "what runs in production"))?;
    write(&tmp, "db/seed.sql", &seed_sql())?;
    write(&tmp, "migrations/001_labels.sql", "UPDATE items SET name = 'item ' || id;\n")?;
    write(&tmp, ".gitignore", "index.html\n")?;
    write(
        &tmp,
        "README.md",
        &format!("# {app_name}\n\nA demo app of EoD Portal: `page.html` is built into `index.html`, served by `eod sample-app` with rows from `db/seed.sql` and `migrations/`.\n"),
    )?;
    git(&tmp, &["add", "-A"])?;
    git(&tmp, &["commit", "--quiet", "-m", "First version"])?;
    for (i, branch) in BRANCHES.iter().enumerate() {
        git(&tmp, &["checkout", "--quiet", "-b", branch, "main"])?;
        let headline = format!("the {branch} change");
        write(&tmp, "page.html", &page(app_name, branch, &headline))?;
        if i % 3 == 0 {
            // A schema change on this branch only: its previews show more rows.
            let rows: Vec<String> = (1..=3).map(|n| format!("({}, 'added on {branch} #{n}')", 1000 + n)).collect();
            write(
                &tmp,
                "migrations/002_branch_rows.sql",
                &format!("INSERT INTO items (id, name) VALUES {};\n", rows.join(", ")),
            )?;
        }
        git(&tmp, &["add", "-A"])?;
        git(&tmp, &["commit", "--quiet", "-m", &format!("Work on {branch}")])?;
    }
    git(&tmp, &["checkout", "--quiet", "main"])?;
    // Pull-request heads, as a forge keeps them.
    for (pr, branch) in [(7, BRANCHES[0]), (12, BRANCHES[2])] {
        git(&tmp, &["update-ref", &format!("refs/pull/{pr}/head"), branch])?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| e.to_string())
}
