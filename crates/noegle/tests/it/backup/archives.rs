//! Archives a restore refuses — cut off, linked, duplicated, sparse, oversized, changed, lacking the database
//! or a secret, of the old format — and targets that are not empty; each leaves the target as it was.

use super::*;

#[test]
fn restore_refuses_every_archive_it_cannot_check_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, file) = backed_up(tmp.path());
    let all = entries(&file);
    assert_eq!(name(&all[0]), "MANIFEST.json", "the manifest comes first");
    let listed: Vec<String> = serde_json::from_slice::<serde_json::Value>(&all[0].1).unwrap()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    let found: Vec<String> = all[1..].iter().map(name).collect();
    assert_eq!(listed, found, "the manifest lists every entry, in order");
    let at = |n: &str| all.iter().position(|e| name(e) == n).unwrap();
    let (db, pepper) = (at("noegle.sqlite"), at(PEPPER));
    assert!(
        all.iter()
            .any(|e| name(e).starts_with("secrets/oidc-signing-key.") && name(e) != "secrets/oidc-signing-key.pem")
    );
    let case = |label: &str, entries: &[Entry], cut: bool, why: &str| {
        let archive = tmp.path().join(label);
        write_tar(&archive, entries, cut);
        refused(tmp.path(), &archive, why);
    };

    // Cut off between entries: after the manifest, after the database, before the last secret.
    case("manifest-only", &all[..1], true, "incomplete");
    case("no-secrets", &all[..=db], true, "incomplete");
    case("one-short", &all[..all.len() - 1], true, "incomplete");
    // Cut off inside the database.
    write_tar(&tmp.path().join("mid-database"), &all, false);
    let mid = tmp.path().join("mid-database");
    let start: u64 = all[..db].iter().map(|(_, b)| 512 + (b.len() as u64).div_ceil(512) * 512).sum::<u64>() + 512;
    std::fs::OpenOptions::new().write(true).open(&mid).unwrap().set_len(start + 1000).unwrap();
    refused(tmp.path(), &mid, "incomplete");

    // Links and devices in place of a secret.
    let mut with = all.clone();
    with[pepper] = special(PEPPER, EntryType::Symlink, "/etc/passwd");
    case("symlink", &with, false, "symbolic link");
    with[pepper] = special(PEPPER, EntryType::Link, "noegle.sqlite");
    case("hardlink", &with, false, "hard link");
    with[pepper] = special(PEPPER, EntryType::Char, "");
    case("device", &with, false, "device");
    with[pepper] = special(PEPPER, EntryType::Directory, "");
    case("directory", &with, false, "directory");

    // A duplicated entry, an entry the manifest does not list, the manifest not first.
    let mut twice = all.clone();
    twice.push(all[pepper].clone());
    case("duplicate", &twice, false, "twice");
    let mut extra = all.clone();
    extra.push(regular("secrets/oidc-signing-key.99.pem", b"-----BEGIN PRIVATE KEY-----\n"));
    case("unlisted", &extra, false, "not in its manifest");
    let mut swapped = all.clone();
    swapped.swap(0, db);
    case("manifest-later", &swapped, false, "manifest");

    // Names that climb out of the target or start at the root: unlisted, and listed (a manifest that names
    // them itself), whether or not the name keeps the `secrets/` prefix. Nothing lands outside the target.
    let outside = tmp.path().join("escaped");
    let abs = format!("{}/keycard-pepper.key", outside.display());
    for (label, evil) in [
        ("dotdot", "../escaped/keycard-pepper.key"),
        ("secrets-dotdot", "secrets/../../escaped/keycard-pepper.key"),
        ("absolute", abs.as_str()),
        ("secrets-absolute", &format!("secrets/{abs}")),
    ] {
        let mut unlisted = all.clone();
        unlisted.push(named_as_is(evil, b"0123456789abcdef0123456789abcdef"));
        case(&format!("{label}-unlisted"), &unlisted, false, "not in its manifest");
        let mut rest: Vec<Entry> = all[1..].to_vec();
        rest[pepper - 1] = named_as_is(evil, &all[pepper].1);
        let mut listed = vec![manifest(2, &rest)];
        listed.extend(rest);
        assert_eq!(name(&listed[pepper]), evil, "the tar crate reads the name back as written");
        case(&format!("{label}-listed"), &listed, false, "which no backup of nøgle holds");
        assert!(!outside.exists(), "{label}: nothing was written outside the target");
    }

    // Bytes that are not what the manifest says: one changed, one more.
    let mut changed = all.clone();
    let last = changed[db].1.len() - 1;
    changed[db].1[last] ^= 1;
    case("changed", &changed, false, "SHA-256");
    let mut longer = all.clone();
    longer[db].1.extend_from_slice(&[0; 512]);
    let size = longer[db].1.len() as u64;
    longer[db].0.set_size(size);
    longer[db].0.set_cksum();
    case("oversized", &longer, false, "its manifest says");

    // Consistent archives that lack what a node needs: the database of a SQLite node, a secret.
    for (label, left_out, why) in [("no-database", db, "noegle.sqlite"), ("no-pepper", pepper, "keycard-pepper.key")] {
        let rest: Vec<Entry> =
            all[1..].iter().enumerate().filter(|(i, _)| i + 1 != left_out).map(|(_, e)| e.clone()).collect();
        let mut archive = vec![manifest(2, &rest)];
        archive.extend(rest);
        case(label, &archive, false, why);
    }

    // The format before the manifest listed its entries (format 1): refused, with what to do.
    let mut old = all.clone();
    old[0] = regular(
        "MANIFEST.json",
        json!({ "format": 1, "noegle": "0.1.0", "database": "sqlite" }).to_string().as_bytes(),
    );
    case("format-1", &old, false, "format 1");

    // The archive itself, restored: every file, none of the temporary ones.
    let good = tmp.path().join("good");
    let restored = json(&good, None, &["restore", file.to_str().unwrap(), "--json"], "");
    assert_eq!(restored["restored"].as_array().unwrap().len(), all.len() - 1, "{restored}");
    let mut names: Vec<String> =
        std::fs::read_dir(&good).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut wanted: Vec<String> = found.iter().map(|n| n.trim_start_matches("secrets/").to_string()).collect();
    wanted.sort();
    assert_eq!(names, wanted);
    for key in SECRETS {
        assert!(good.join(key).exists());
    }
}

/// A target that holds anything — a stale rotated signing key, a note — is refused and left as it was.
#[test]
fn restore_refuses_a_target_that_holds_any_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, file) = backed_up(tmp.path());
    for stale in ["oidc-signing-key.1700000000.pem", "notes.txt"] {
        let target = tmp.path().join(format!("t-{stale}"));
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join(stale), b"old").unwrap();
        let e = fails(&target, &["restore", file.to_str().unwrap()], "");
        assert!(e.contains(stale) && e.contains("restore into a new data directory"), "{e}");
        let left: Vec<_> = std::fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from(stale)], "nothing was written");
        assert_eq!(std::fs::read(target.join(stale)).unwrap(), b"old");
    }
}
