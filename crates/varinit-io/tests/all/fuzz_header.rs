//! The safetensors header reader never panics, on random bytes or on
//! mutations of valid headers, and whatever it accepts is consistent (and
//! accepted by the `safetensors` crate too).

use proptest::prelude::*;
use varinit_io::reader::{header_len, parse_header};

fn valid_header() -> Vec<u8> {
    br#"{"__metadata__":{"format":"pt","varinit.seed":"1"},"a.weight":{"dtype":"BF16","shape":[2,3],"data_offsets":[16,28]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"c":{"dtype":"F16","shape":[0],"data_offsets":[28,28]}}"#
        .to_vec()
}

fn check(json: &[u8], data_len: u64) {
    if let Ok(h) = parse_header(json, data_len) {
        let mut pos = 0;
        for t in &h.tensors {
            assert_eq!(t.begin, pos);
            assert!(t.end <= data_len);
            assert_eq!(t.end - t.begin, t.numel * t.elem_size);
            pos = t.end;
        }
        assert_eq!(pos, data_len);
        // the reference implementation agrees that this file is valid
        let mut file = (json.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(json);
        file.resize(file.len() + data_len as usize, 0);
        if h.tensors.iter().all(|t| t.float.is_some()) && !h.tensors.is_empty() {
            assert!(safetensors::SafeTensors::deserialize(&file).is_ok(), "{}", String::from_utf8_lossy(json));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), data_len in 0u64..100) {
        check(&bytes, data_len);
        let _ = header_len(&bytes, bytes.len() as u64);
    }

    #[test]
    fn mutated_headers_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
        data_len in prop_oneof![Just(28u64), 0u64..64],
    ) {
        let mut h = valid_header();
        for (i, b, kind) in edits {
            if h.is_empty() { break; }
            let at = i.index(h.len());
            match kind {
                0 => h[at] = b,
                1 => { h.remove(at); }
                2 => h.insert(at, b"0123456789[]{},:\"-e."[b as usize % 20]),
                _ => h.truncate(at),
            }
        }
        check(&h, data_len);
    }

    #[test]
    fn random_tensor_tables_never_panic(
        entries in proptest::collection::vec(
            ("[a-c]{1,2}", prop::sample::select(vec!["F32", "BF16", "F16", "F64", "I8", "X"]),
             proptest::collection::vec(0u64..5, 0..3), 0u64..40, 0u64..40), 0..5),
        data_len in 0u64..80,
    ) {
        let body: Vec<String> = entries
            .iter()
            .map(|(n, d, s, b, e)| format!("\"{n}\":{{\"dtype\":\"{d}\",\"shape\":{s:?},\"data_offsets\":[{b},{e}]}}"))
            .collect();
        check(format!("{{{}}}", body.join(",")).as_bytes(), data_len);
    }
}

#[test]
fn the_unmutated_header_is_valid() {
    let h = parse_header(&valid_header(), 28).unwrap();
    assert_eq!(h.tensors.len(), 3);
}
