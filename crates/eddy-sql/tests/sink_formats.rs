//! What the `filesystem` sink writes, line for line, in the `csv`, `json` and
//! `debezium-json` formats. Every expected line is what Flink 2.3 wrote for the
//! same statement (compared sorted, as the order of lines in a file is not part
//! of the format).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use eddy_core::Config;
use eddy_sql::Session;

/// Runs `statements` (`;` and a line break between them), then returns the
/// sorted lines of the files under `dir`.
fn written(statements: &str, dir: &Path) -> Vec<String> {
    let mut session = Session::new(Config::new());
    for statement in statements
        .split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        session
            .execute_sql(statement)
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        lines.extend(
            std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(String::from),
        );
    }
    lines.sort();
    lines
}

fn sorted(lines: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    lines.sort();
    lines
}

const ALL_TYPES: &str = "zid INT, name STRING, amount DECIMAL(10, 2), big DECIMAL(20, 0), ts TIMESTAMP(3), ts0 TIMESTAMP(0), ts6 TIMESTAMP(6), d DATE, t TIME, ok BOOLEAN, f FLOAT, x DOUBLE, b BYTES, arr ARRAY<INT>";

const ALL_VALUES: &str = "(2, 'a,\"b\"', 10.50, CAST('12345678901234567890' AS DECIMAL(20, 0)), TIMESTAMP '2024-01-01 00:00:01.500', TIMESTAMP '2024-01-01 00:00:02', TIMESTAMP '2024-01-01 00:00:03.123456', DATE '2024-02-03', TIME '04:05:06', TRUE, CAST(1.5 AS FLOAT), 1e10, X'0102', ARRAY[1, CAST(NULL AS INT)]), \
(1, CAST(NULL AS STRING), CAST(NULL AS DECIMAL(10,2)), 0, TIMESTAMP '2024-01-01 00:00:00', CAST(NULL AS TIMESTAMP(0)), TIMESTAMP '2024-01-01 00:00:00.000001', CAST(NULL AS DATE), CAST(NULL AS TIME), CAST(NULL AS BOOLEAN), CAST(NULL AS FLOAT), 0.1, NULL, NULL), \
(3, '', 0.00, -1, TIMESTAMP '2024-01-01 00:00:00.010', TIMESTAMP '2024-01-01 00:00:02', TIMESTAMP '2024-01-01 00:00:03.100000', DATE '2024-02-03', TIME '04:05:06', FALSE, CAST(-0.25 AS FLOAT), -1.0E-5, X'', ARRAY[CAST(NULL AS INT)])";

#[test]
fn json_keeps_the_column_order_and_writes_values_as_flink() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("json");
    let sql = format!(
        "CREATE TABLE out_json ({ALL_TYPES}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');\n\
         INSERT INTO out_json VALUES {ALL_VALUES}",
        out.display(),
    );
    assert_eq!(
        written(&sql, &out),
        sorted(&[
            r#"{"zid":2,"name":"a,\"b\"","amount":10.5,"big":1.234567890123456789E+19,"ts":"2024-01-01 00:00:01.5","ts0":"2024-01-01 00:00:02","ts6":"2024-01-01 00:00:03.123456","d":"2024-02-03","t":"04:05:06","ok":true,"f":1.5,"x":1.0E10,"b":"AQI=","arr":[1,null]}"#,
            r#"{"zid":1,"name":null,"amount":null,"big":0,"ts":"2024-01-01 00:00:00","ts0":null,"ts6":"2024-01-01 00:00:00.000001","d":null,"t":null,"ok":null,"f":null,"x":0.1,"b":null,"arr":null}"#,
            r#"{"zid":3,"name":"","amount":0,"big":-1,"ts":"2024-01-01 00:00:00.01","ts0":"2024-01-01 00:00:02","ts6":"2024-01-01 00:00:03.1","d":"2024-02-03","t":"04:05:06","ok":false,"f":-0.25,"x":-1.0E-5,"b":"","arr":[null]}"#,
        ])
    );
}

#[test]
fn csv_writes_values_and_quotes_as_flink() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("csv");
    let sql = format!(
        "CREATE TABLE out_csv ({ALL_TYPES}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         INSERT INTO out_csv VALUES {ALL_VALUES}",
        out.display()
    );
    assert_eq!(
        written(&sql, &out),
        sorted(&[
            r#"2,"a,""b""",10.5,1.234567890123456789E+19,"2024-01-01 00:00:01.5","2024-01-01 00:00:02","2024-01-01 00:00:03.123456",2024-02-03,04:05:06,true,1.5,1.0E10,AQI=,1;"#,
            r#"1,,,0,"2024-01-01 00:00:00",,"2024-01-01 00:00:00.000001",,,,,0.1,,"#,
            r#"3,,0,-1,"2024-01-01 00:00:00.01","2024-01-01 00:00:02","2024-01-01 00:00:03.1",2024-02-03,04:05:06,false,-0.25,-1.0E-5,,"#,
        ])
    );
}

#[test]
fn strings_decimals_and_local_zoned_timestamps() {
    let tmp = tempfile::tempdir().unwrap();
    let (csv, json) = (tmp.path().join("csv"), tmp.path().join("json"));
    let columns = "s STRING, d0 DECIMAL(10, 0), d2 DECIMAL(10, 3), lt TIMESTAMP_LTZ(3), n BIGINT";
    let rows = "('a b', 100, 0.001, TO_TIMESTAMP_LTZ(1500, 3), 1), (' x', 120, 1234567.5, TO_TIMESTAMP_LTZ(0, 3), 2), ('x ', 0, 0.0000001, TO_TIMESTAMP_LTZ(0, 3), 3), ('#x', -100, -2.500, TO_TIMESTAMP_LTZ(0, 3), 4)";
    let sql = format!(
        "CREATE TABLE o_csv ({columns}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         INSERT INTO o_csv VALUES {rows}, ('a;b', 7, 10, TO_TIMESTAMP_LTZ(0, 3), 6), ('null', 7, 10, TO_TIMESTAMP_LTZ(0, 3), 8), ('ü', 7, 10, TO_TIMESTAMP_LTZ(0, 3), 9)",
        csv.display()
    );
    assert_eq!(
        written(&sql, &csv),
        sorted(&[
            r#""a b",1E+2,0.001,"1970-01-01 00:00:01.5Z",1"#,
            r#"" x",1.2E+2,1234567.5,"1970-01-01 00:00:00Z",2"#,
            r#""x ",0,0,"1970-01-01 00:00:00Z",3"#,
            r##""#x",-1E+2,-2.5,"1970-01-01 00:00:00Z",4"##,
            r#"a;b,7,1E+1,"1970-01-01 00:00:00Z",6"#,
            r#"null,7,1E+1,"1970-01-01 00:00:00Z",8"#,
            r#"ü,7,1E+1,"1970-01-01 00:00:00Z",9"#,
        ])
    );
    let sql = format!(
        "CREATE TABLE o_json ({columns}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');\n\
         INSERT INTO o_json VALUES {rows}, ('ü/\"\\', 7, 10, TO_TIMESTAMP_LTZ(0, 3), 5)",
        json.display()
    );
    assert_eq!(
        written(&sql, &json),
        sorted(&[
            r#"{"s":"a b","d0":1E+2,"d2":0.001,"lt":"1970-01-01 00:00:01.5Z","n":1}"#,
            r#"{"s":" x","d0":1.2E+2,"d2":1234567.5,"lt":"1970-01-01 00:00:00Z","n":2}"#,
            r#"{"s":"x ","d0":0,"d2":0,"lt":"1970-01-01 00:00:00Z","n":3}"#,
            r##"{"s":"#x","d0":-1E+2,"d2":-2.5,"lt":"1970-01-01 00:00:00Z","n":4}"##,
            r#"{"s":"ü/\"\\","d0":7,"d2":1E+1,"lt":"1970-01-01 00:00:00Z","n":5}"#,
        ])
    );
}

#[test]
fn nested_rows_keep_their_field_order() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.json");
    std::fs::write(
        &input,
        "{\"id\":1,\"r\":{\"a\":\"x y\",\"b\":2}}\n{\"id\":2,\"r\":{\"b\":null,\"a\":null}}\n{\"id\":3,\"r\":null}\n",
    )
    .unwrap();
    let (csv, json) = (tmp.path().join("csv"), tmp.path().join("json"));
    let source = format!(
        "CREATE TABLE nested_in (id INT, r ROW<b INT, a STRING>) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json')",
        input.display()
    );
    let sql = format!(
        "{source};\n\
         CREATE TABLE nested_json (r ROW<b INT, a STRING>, id INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');\n\
         INSERT INTO nested_json SELECT r, id FROM nested_in",
        json.display()
    );
    assert_eq!(
        written(&sql, &json),
        sorted(&[
            r#"{"r":{"b":2,"a":"x y"},"id":1}"#,
            r#"{"r":{"b":null,"a":null},"id":2}"#,
            r#"{"r":null,"id":3}"#,
        ])
    );
    let sql = format!(
        "{source};\n\
         CREATE TABLE nested_csv (r ROW<b INT, a STRING>, id INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         INSERT INTO nested_csv SELECT r, id FROM nested_in",
        csv.display()
    );
    assert_eq!(written(&sql, &csv), sorted(&[r#""2;x y",1"#, ";,2", ",3"]));
}

#[test]
fn format_options_and_debezium_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (csv, json, dbz) = (
        tmp.path().join("csv"),
        tmp.path().join("json"),
        tmp.path().join("dbz"),
    );
    let columns = "t TIME, arr ARRAY<STRING>, f FLOAT, b BYTES, s STRING, d2 DECIMAL(10, 3), lt TIMESTAMP_LTZ(3), ts TIMESTAMP(3)";
    let rows = "(TIME '04:05:06', ARRAY['a b', 'c;d', CAST(NULL AS STRING)], CAST(0.1 AS FLOAT), X'FBFF', 'x;y', 100.000, TO_TIMESTAMP_LTZ(1500, 3), TIMESTAMP '2024-01-01 00:00:00.123'), (CAST(NULL AS TIME), NULL, CAST(-1.5E-4 AS FLOAT), X'', CAST(NULL AS STRING), 0.001, TO_TIMESTAMP_LTZ(0, 3), TIMESTAMP '2024-01-01 00:00:00')";
    let sql = format!(
        "CREATE TABLE o3_csv ({columns}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'csv.null-literal' = 'N/A', 'csv.field-delimiter' = ';', 'csv.write-bigdecimal-in-scientific-notation' = 'false');\n\
         INSERT INTO o3_csv VALUES {rows}",
        csv.display()
    );
    assert_eq!(
        written(&sql, &csv),
        sorted(&[
            r#""04:05:06";"a b;c;d;N/A";0.1;"+/8=";"x;y";1E+2;"1970-01-01 00:00:01.5Z";"2024-01-01 00:00:00.123""#,
            r#"N/A;N/A;-1.5E-4;;N/A;0.001;"1970-01-01 00:00:00Z";"2024-01-01 00:00:00""#,
        ])
    );
    let sql = format!(
        "CREATE TABLE o3_json ({columns}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json', 'json.timestamp-format.standard' = 'ISO-8601', 'json.encode.decimal-as-plain-number' = 'true');\n\
         INSERT INTO o3_json VALUES {rows}",
        json.display()
    );
    assert_eq!(
        written(&sql, &json),
        sorted(&[
            r#"{"t":"04:05:06","arr":["a b","c;d",null],"f":0.1,"b":"+/8=","s":"x;y","d2":100.000,"lt":"1970-01-01T00:00:01.5Z","ts":"2024-01-01T00:00:00.123"}"#,
            r#"{"t":null,"arr":null,"f":-1.5E-4,"b":"","s":null,"d2":0.001,"lt":"1970-01-01T00:00:00Z","ts":"2024-01-01T00:00:00"}"#,
        ])
    );
    let sql = format!(
        "CREATE TABLE o3_dbz (t TIME, s STRING, d2 DECIMAL(10, 3), ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'debezium-json');\n\
         INSERT INTO o3_dbz SELECT TIME '04:05:06', s, SUM(d2), MAX(ts) FROM (VALUES ('a', 1.50, TIMESTAMP '2024-01-01 00:00:00.100'), ('a', 2.00, TIMESTAMP '2024-01-01 00:00:01')) AS v(s, d2, ts) GROUP BY s",
        dbz.display()
    );
    assert_eq!(
        written(&sql, &dbz),
        sorted(&[
            r#"{"before":null,"after":{"t":"04:05:06","s":"a","d2":1.5,"ts":"2024-01-01 00:00:00.1"},"op":"c"}"#,
            r#"{"before":{"t":"04:05:06","s":"a","d2":1.5,"ts":"2024-01-01 00:00:00.1"},"after":null,"op":"d"}"#,
            r#"{"before":null,"after":{"t":"04:05:06","s":"a","d2":3.5,"ts":"2024-01-01 00:00:01"},"op":"c"}"#,
        ])
    );
}
