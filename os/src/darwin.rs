//! macOS: IOKit registry entries as property maps, the boot volume's UUID,
//! and sysctl values. Type-checked for both Apple targets by the test
//! command; the decisions over these answers are tested from recorded
//! dumps in the core.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::ptr;

use core_foundation::base::{CFType, TCFType as _};
use core_foundation::boolean::CFBoolean;
use core_foundation::data::CFData;
use core_foundation::dictionary::CFDictionary;
use core_foundation::number::CFNumber;
use core_foundation::string::CFString;
use core_foundation_sys::base::kCFAllocatorDefault;
use core_foundation_sys::dictionary::CFMutableDictionaryRef;
use io_kit_sys::types::{io_iterator_t, io_object_t, io_registry_entry_t};
use io_kit_sys::{
    kIOMasterPortDefault, IOBSDNameMatching, IOIteratorNext, IOObjectRelease,
    IORegistryEntryCreateCFProperties, IORegistryEntryGetParentEntry, IOServiceGetMatchingService,
    IOServiceGetMatchingServices, IOServiceMatching,
};

/// A property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A CFBoolean.
    Bool(bool),
    /// A CFNumber that fits an i64.
    Number(i64),
    /// A CFString.
    String(String),
    /// A CFData.
    Data(Vec<u8>),
}

/// A registry entry's properties; values of other types are left out.
pub type Props = BTreeMap<String, Value>;

/// An IOKit object released when dropped.
struct Object(io_object_t);

impl Drop for Object {
    fn drop(&mut self) {
        if self.0 != 0 {
            // SAFETY: the object was returned to this process with a
            // reference, which is given back once.
            unsafe { IOObjectRelease(self.0) };
        }
    }
}

/// The properties of `IOPlatformExpertDevice` (`IOPlatformUUID`,
/// `IOPlatformSerialNumber`, `model`, `manufacturer`).
pub fn platform_expert() -> Option<Props> {
    let service = matching_service(c"IOPlatformExpertDevice")?;
    properties(service.0)
}

/// Every `IOEthernetInterface` (Ethernet and Wi-Fi), with its controller's
/// `IOMACAddress` added.
pub fn network_interfaces() -> Vec<Props> {
    // SAFETY: the class name is NUL-terminated; the matching dictionary is
    // consumed by IOServiceGetMatchingServices.
    let matching = unsafe { IOServiceMatching(c"IOEthernetInterface".as_ptr()) };
    if matching.is_null() {
        return Vec::new();
    }
    let mut iter: io_iterator_t = 0;
    // SAFETY: `matching` is a fresh dictionary (consumed); `iter` receives
    // an iterator this function releases.
    let rc = unsafe { IOServiceGetMatchingServices(kIOMasterPortDefault, matching, &mut iter) };
    if rc != 0 {
        return Vec::new();
    }
    let iter = Object(iter);
    let mut out = Vec::new();
    // At most 256 interfaces: a machine has a handful.
    for _ in 0..256 {
        // SAFETY: `iter` is a valid iterator.
        let entry = Object(unsafe { IOIteratorNext(iter.0) });
        if entry.0 == 0 {
            break;
        }
        let Some(mut props) = properties(entry.0) else {
            continue;
        };
        let mut parent: io_registry_entry_t = 0;
        // SAFETY: `entry` is valid, the plane name NUL-terminated; the
        // parent, when returned, is released below.
        let rc =
            unsafe { IORegistryEntryGetParentEntry(entry.0, c"IOService".as_ptr(), &mut parent) };
        if rc == 0 {
            let parent = Object(parent);
            if let Some(Value::Data(mac)) =
                properties(parent.0).and_then(|mut p| p.remove("IOMACAddress"))
            {
                props.insert("IOMACAddress".to_owned(), Value::Data(mac));
            }
        }
        out.push(props);
    }
    out
}

/// The UUID of the volume `/` is mounted from.
pub fn boot_volume_uuid() -> Option<String> {
    // SAFETY: an all-zero statfs is a valid value to be overwritten.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: the path is NUL-terminated and `st` writable.
    if unsafe { libc::statfs(c"/".as_ptr(), &mut st) } != 0 {
        return None;
    }
    // SAFETY: the kernel NUL-terminates f_mntfromname within its array.
    let from = unsafe { CStr::from_ptr(st.f_mntfromname.as_ptr()) };
    let bsd = from.to_str().ok()?.strip_prefix("/dev/")?;
    let bsd = CString::new(bsd).ok()?;
    // SAFETY: the name is NUL-terminated; the dictionary is consumed by
    // IOServiceGetMatchingService.
    let matching = unsafe { IOBSDNameMatching(kIOMasterPortDefault, 0, bsd.as_ptr()) };
    if matching.is_null() {
        return None;
    }
    // SAFETY: `matching` is a fresh dictionary, consumed by the call.
    let media = Object(unsafe { IOServiceGetMatchingService(kIOMasterPortDefault, matching) });
    if media.0 == 0 {
        return None;
    }
    match properties(media.0)?.remove("UUID") {
        Some(Value::String(uuid)) => Some(uuid),
        _ => None,
    }
}

/// A sysctl string.
pub fn sysctl_string(name: &str) -> Option<String> {
    let bytes = sysctl_raw(name)?;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

/// A sysctl integer (32 or 64 bits).
pub fn sysctl_int(name: &str) -> Option<i64> {
    let bytes = sysctl_raw(name)?;
    match bytes.len() {
        4 => Some(i64::from(i32::from_ne_bytes(bytes.try_into().ok()?))),
        8 => Some(i64::from_ne_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

fn sysctl_raw(name: &str) -> Option<Vec<u8>> {
    let name = CString::new(name).ok()?;
    let mut len: libc::size_t = 0;
    // SAFETY: a null buffer asks for the size.
    let rc =
        unsafe { libc::sysctlbyname(name.as_ptr(), ptr::null_mut(), &mut len, ptr::null_mut(), 0) };
    if rc != 0 || len == 0 || len > 4096 {
        return None;
    }
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` holds `len` writable bytes.
    let rc = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    buf.truncate(len);
    Some(buf)
}

fn matching_service(class: &CStr) -> Option<Object> {
    // SAFETY: the class name is NUL-terminated.
    let matching = unsafe { IOServiceMatching(class.as_ptr()) };
    if matching.is_null() {
        return None;
    }
    // SAFETY: `matching` is a fresh dictionary, consumed by the call.
    let service = Object(unsafe { IOServiceGetMatchingService(kIOMasterPortDefault, matching) });
    (service.0 != 0).then_some(service)
}

/// An entry's properties, converted.
fn properties(entry: io_registry_entry_t) -> Option<Props> {
    let mut dict: CFMutableDictionaryRef = ptr::null_mut();
    // SAFETY: `entry` is valid; the dictionary is created for the caller
    // and wrapped under the create rule (released on drop).
    let rc = unsafe { IORegistryEntryCreateCFProperties(entry, &mut dict, kCFAllocatorDefault, 0) };
    if rc != 0 || dict.is_null() {
        return None;
    }
    // SAFETY: `dict` is a CFDictionary this process owns (create rule).
    let dict: CFDictionary<CFType, CFType> =
        unsafe { CFDictionary::wrap_under_create_rule(dict.cast_const()) };
    let (keys, values) = dict.get_keys_and_values();
    let mut out = Props::new();
    for (k, v) in keys.into_iter().zip(values) {
        // SAFETY: the dictionary holds valid CF objects, retained here.
        let key = unsafe { CFType::wrap_under_get_rule(k) };
        // SAFETY: as above.
        let value = unsafe { CFType::wrap_under_get_rule(v) };
        let Some(key) = key.downcast::<CFString>() else {
            continue;
        };
        let value = if let Some(s) = value.downcast::<CFString>() {
            Value::String(s.to_string())
        } else if let Some(b) = value.downcast::<CFBoolean>() {
            Value::Bool(bool::from(b))
        } else if let Some(n) = value.downcast::<CFNumber>() {
            match n.to_i64() {
                Some(n) => Value::Number(n),
                None => continue,
            }
        } else if let Some(d) = value.downcast::<CFData>() {
            Value::Data(d.bytes().to_vec())
        } else {
            continue;
        };
        out.insert(key.to_string(), value);
    }
    Some(out)
}
