//! The REST API over TLS (`security.ssl.rest.*`): certificates made by the test
//! (a CA, the server's for 127.0.0.1, a client's), an `eddy sql` job served
//! over HTTPS only, and the CLI against it: it lists and cancels the job when
//! it trusts the CA, and fails saying why when it does not, when it has no
//! truststore, or when the server wants a client certificate it lacks. A key
//! that is not the certificate's stops the server at its start.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::certs::{certificates, write};
use common::{eddy, Shell};

/// An unbounded job, so that the process serves until it is cancelled.
fn script(dir: &Path) -> PathBuf {
    write(
        dir,
        "job.sql",
        "CREATE TABLE ticks (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '50', \
         'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '1000000');\n\
         CREATE TABLE sink (k BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO sink SELECT k FROM ticks;\n",
    )
}

fn key(name: &str, value: &Path) -> String {
    format!("{name}={}", value.display())
}

/// `eddy list -m https://addr` with `settings`: whether it worked and what it said.
fn list(addr: &str, settings: &[String]) -> (bool, String) {
    let mut args = vec!["list".to_string(), "-m".into(), format!("https://{addr}")];
    for s in settings {
        args.extend(["-D".to_string(), s.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out, err) = eddy(&args);
    (ok, format!("{out}{err}"))
}

/// Plain HTTP to the port: no answer in HTTP. The server may reset the
/// connection as soon as it sees bytes that are not a TLS handshake, so a
/// failed write is a refusal too.
fn plain_http_is_refused(addr: &str) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET /overview HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "plain HTTP was answered"
    );
}

#[test]
fn the_cli_talks_to_the_rest_api_over_tls_and_refuses_what_it_cannot_trust() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = certificates(tmp.path());
    let server = [
        "-D".to_string(),
        "security.ssl.rest.enabled=true".into(),
        "-D".into(),
        key("security.ssl.rest.keystore", &certs.server),
    ];
    let server: Vec<&str> = server.iter().map(String::as_str).collect();
    let shell = Shell::start(&script(tmp.path()), &server);
    plain_http_is_refused(&shell.addr);

    let enabled = "security.ssl.rest.enabled=true".to_string();
    let trusting = [
        enabled.clone(),
        key("security.ssl.rest.truststore", &certs.ca),
    ];
    // The script's job may still be starting: ask until it runs.
    let started = std::time::Instant::now();
    let (ok, said) = loop {
        let (ok, said) = list(&shell.addr, &trusting);
        if !ok || said.contains("RUNNING") || started.elapsed().as_secs() > 30 {
            break (ok, said);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(ok && said.contains("RUNNING"), "{said}");

    let (ok, said) = list(&shell.addr, std::slice::from_ref(&enabled));
    assert!(
        !ok && said.contains("security.ssl.rest.truststore"),
        "{said}"
    );
    let wrong = [
        enabled.clone(),
        key("security.ssl.rest.truststore", &certs.other_ca),
    ];
    let (ok, said) = list(&shell.addr, &wrong);
    eprintln!("wrong CA: {said}");
    assert!(!ok && said.contains("certificate"), "{said}");
    let (ok, said) = list(&shell.addr, &[]);
    assert!(!ok && said.contains("security.ssl.rest.enabled"), "{said}");

    // Cancelled over TLS, the job ends and the process with it.
    let job = trusting
        .iter()
        .flat_map(|s| ["-D", s.as_str()])
        .collect::<Vec<_>>();
    let listed = {
        let mut args = vec!["list", "-m"];
        let address = format!("https://{}", shell.addr);
        args.push(&address);
        args.extend(job.iter().copied());
        eddy(&args).1
    };
    let id = listed
        .lines()
        .find_map(|l| l.split(" : ").nth(1))
        .unwrap_or_else(|| panic!("{listed}"))
        .trim()
        .to_string();
    let address = format!("https://{}", shell.addr);
    let mut args = vec!["cancel", "-m", &address];
    args.extend(job.iter().copied());
    args.push(&id);
    let (ok, out, err) = eddy(&args);
    assert!(ok, "{out}{err}");
    let (_, stderr) = shell.finish();
    assert!(stderr.contains("cancelled"), "{stderr}");
}

#[test]
fn mutual_tls_needs_a_client_certificate_and_a_wrong_key_stops_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = certificates(tmp.path());
    let mutual = [
        "security.ssl.rest.enabled=true".to_string(),
        "security.ssl.rest.authentication-enabled=true".into(),
        key("security.ssl.rest.keystore", &certs.server),
        key("security.ssl.rest.truststore", &certs.ca),
    ];
    let args: Vec<&str> = mutual.iter().flat_map(|s| ["-D", s.as_str()]).collect();
    let shell = Shell::start(&script(tmp.path()), &args);

    let enabled = "security.ssl.rest.enabled=true".to_string();
    let no_cert = [
        enabled.clone(),
        key("security.ssl.rest.truststore", &certs.ca),
    ];
    let (ok, said) = list(&shell.addr, &no_cert);
    eprintln!("no client certificate: {said}");
    assert!(!ok, "a client without a certificate was let in: {said}");
    let with_cert = [
        enabled,
        "security.ssl.rest.authentication-enabled=true".into(),
        key("security.ssl.rest.truststore", &certs.ca),
        key("security.ssl.rest.keystore", &certs.client),
    ];
    let (ok, said) = list(&shell.addr, &with_cert);
    assert!(ok && said.contains("RUNNING"), "{said}");
    if let Some(mut child) = shell.child {
        let _ = child.kill();
        let _ = child.wait();
    }

    // The client's key with the server's certificate: refused at the start.
    let mismatched = write(
        tmp.path(),
        "mismatched.pem",
        &format!(
            "{}{}",
            pem_block(&certs.server, "CERTIFICATE"),
            pem_block(&certs.client, "PRIVATE KEY")
        ),
    );
    let out = common::eddy_command()
        .args(["sql", "-f"])
        .arg(script(tmp.path()))
        .args([
            "-D",
            "rest.port=0",
            "-D",
            "security.ssl.rest.enabled=true",
            "-D",
        ])
        .arg(key("security.ssl.rest.keystore", &mismatched))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("security.ssl.rest.keystore") && stderr.contains("does not fit"),
        "{stderr}"
    );
}

/// The first PEM block of `file` whose label ends with `label`.
fn pem_block(file: &Path, label: &str) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let begin = text.find(&format!("{label}-----")).unwrap();
    let start = text[..begin].rfind("-----BEGIN").unwrap();
    let end_marker = format!("-----END {}", &text[start + 11..begin]);
    let end = text[start..].find(&end_marker).unwrap() + start;
    let end = end + text[end..].find('\n').unwrap() + 1;
    text[start..end].to_string()
}
