//! Windows: the raw SMBIOS table, the network adapters, the system volume,
//! the host name and edition, installed services, an owner-only ACL and a
//! durable replace. Every buffer is sized by the OS's own answer and every
//! string read is bounded by it.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::windows::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::Path;
use std::ptr;

use windows_sys::Win32::Foundation::{
    CloseHandle, LocalFree, ERROR_BUFFER_OVERFLOW, ERROR_SUCCESS, GENERIC_ALL, HANDLE,
};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetAdaptersAddresses, GAA_FLAG_INCLUDE_ALL_INTERFACES, GAA_FLAG_SKIP_ANYCAST,
    GAA_FLAG_SKIP_DNS_SERVER, GAA_FLAG_SKIP_MULTICAST, GAA_FLAG_SKIP_UNICAST,
    IP_ADAPTER_ADDRESSES_LH,
};
use windows_sys::Win32::Networking::WinSock::AF_UNSPEC;
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, GetNamedSecurityInfoW, SetEntriesInAclW, SetNamedSecurityInfoW,
    EXPLICIT_ACCESS_W, NO_MULTIPLE_TRUSTEE, SET_ACCESS, SE_FILE_OBJECT, TRUSTEE_IS_SID,
    TRUSTEE_IS_USER, TRUSTEE_W,
};
use windows_sys::Win32::Security::{
    GetAce, GetTokenInformation, TokenUser, ACCESS_ALLOWED_ACE, ACL, DACL_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
    SUB_CONTAINERS_AND_OBJECTS_INHERIT, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::Storage::FileSystem::{
    GetVolumeInformationW, GetVolumeNameForVolumeMountPointW, GetVolumePathNameW, MoveFileExW,
    MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH,
};
use windows_sys::Win32::System::SystemInformation::{
    ComputerNamePhysicalDnsHostname, GetComputerNameExW, GetSystemFirmwareTable,
    GetSystemWindowsDirectoryW, RSMB,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use crate::{Adapter, Volume};

/// The firmware's raw SMBIOS data as `GetSystemFirmwareTable('RSMB')` gives
/// it: an 8-byte header (calling method, major and minor version, DMI
/// revision, table length) and the structure table.
pub fn smbios() -> io::Result<Vec<u8>> {
    // SAFETY: a null buffer of size 0 asks only for the size.
    let size = unsafe { GetSystemFirmwareTable(RSMB, 0, ptr::null_mut(), 0) };
    if size == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; size as usize];
    // SAFETY: `buf` holds `size` writable bytes.
    let written = unsafe { GetSystemFirmwareTable(RSMB, 0, buf.as_mut_ptr(), size) };
    if written == 0 || written > size {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(written as usize);
    Ok(buf)
}

/// Every network adapter, with its PnP instance id.
pub fn adapters() -> io::Result<Vec<Adapter>> {
    let flags = GAA_FLAG_SKIP_UNICAST
        | GAA_FLAG_SKIP_ANYCAST
        | GAA_FLAG_SKIP_MULTICAST
        | GAA_FLAG_SKIP_DNS_SERVER
        | GAA_FLAG_INCLUDE_ALL_INTERFACES;
    // Adapters can appear between the size query and the call: ask again,
    // a few times, with the size the OS says it now needs.
    let mut size: u32 = 16 * 1024;
    for _ in 0..4 {
        // u64 elements: the list's structures need 8-byte alignment.
        let mut buf = vec![0u64; (size as usize).div_ceil(8)];
        let first = buf.as_mut_ptr().cast::<IP_ADAPTER_ADDRESSES_LH>();
        // SAFETY: `buf` holds at least `size` writable, aligned bytes.
        let rc = unsafe {
            GetAdaptersAddresses(u32::from(AF_UNSPEC), flags, ptr::null(), first, &mut size)
        };
        if rc == ERROR_BUFFER_OVERFLOW {
            continue;
        }
        if rc != ERROR_SUCCESS {
            return Err(io::Error::from_raw_os_error(rc as i32));
        }
        let mut out = Vec::new();
        let mut node = first.cast_const();
        while !node.is_null() {
            // SAFETY: the OS wrote a linked list inside `buf`, which lives
            // until the end of this function; each node is valid to read.
            let a = unsafe { &*node };
            let len = (a.PhysicalAddressLength as usize).min(a.PhysicalAddress.len());
            // SAFETY: the OS's strings are NUL-terminated, inside `buf`.
            let name = unsafe { ansi(a.AdapterName) };
            out.push(Adapter {
                pnp_instance_id: pnp_instance_id(&name),
                name,
                // SAFETY: as above.
                friendly_name: unsafe { wide(a.FriendlyName) },
                // SAFETY: as above.
                description: unsafe { wide(a.Description) },
                if_type: a.IfType,
                mac: a.PhysicalAddress[..len].to_vec(),
            });
            node = a.Next.cast_const();
        }
        return Ok(out);
    }
    Err(io::Error::other("the adapter list kept growing"))
}

/// The PnP instance id of a network adapter's device: the network class's
/// registry key keeps it under the adapter's GUID.
fn pnp_instance_id(adapter_guid: &str) -> Option<String> {
    let key = format!(
        r"SYSTEM\CurrentControlSet\Control\Network\{{4D36E972-E325-11CE-BFC1-08002BE10318}}\{adapter_guid}\Connection"
    );
    windows_registry::LOCAL_MACHINE
        .open(key)
        .ok()?
        .get_string("PnPInstanceId")
        .ok()
}

/// The volume Windows is installed on: its serial and GUID path.
pub fn system_volume() -> io::Result<Volume> {
    let mut windir = [0u16; 261];
    // SAFETY: the buffer holds 261 UTF-16 units.
    let n = unsafe { GetSystemWindowsDirectoryW(windir.as_mut_ptr(), windir.len() as u32) };
    if n == 0 || n as usize >= windir.len() {
        return Err(io::Error::last_os_error());
    }
    let mut root = [0u16; 261];
    // SAFETY: `windir` is NUL-terminated; `root` holds 261 units.
    if unsafe { GetVolumePathNameW(windir.as_ptr(), root.as_mut_ptr(), root.len() as u32) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut serial = 0u32;
    // SAFETY: `root` is NUL-terminated; the other outputs are optional.
    let ok = unsafe {
        GetVolumeInformationW(
            root.as_ptr(),
            ptr::null_mut(),
            0,
            &mut serial,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            0,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut guid = [0u16; 64];
    // SAFETY: `root` is NUL-terminated; `guid` holds 64 units (a volume GUID path is 49).
    let guid_path = (unsafe {
        GetVolumeNameForVolumeMountPointW(root.as_ptr(), guid.as_mut_ptr(), guid.len() as u32)
    } != 0)
        .then(|| until_nul(&guid));
    Ok(Volume { serial, guid_path })
}

/// The machine's DNS host name (the computer name).
pub fn host_name() -> Option<String> {
    let mut size = 0u32;
    // SAFETY: a null buffer asks for the size (in units, with the NUL).
    unsafe { GetComputerNameExW(ComputerNamePhysicalDnsHostname, ptr::null_mut(), &mut size) };
    if size == 0 || size > 1024 {
        return None;
    }
    let mut buf = vec![0u16; size as usize];
    // SAFETY: `buf` holds `size` units.
    let ok =
        unsafe { GetComputerNameExW(ComputerNamePhysicalDnsHostname, buf.as_mut_ptr(), &mut size) };
    (ok != 0).then(|| until_nul(&buf))
}

/// A string value under `HKEY_LOCAL_MACHINE`.
pub fn registry_string(key: &str, value: &str) -> Option<String> {
    windows_registry::LOCAL_MACHINE
        .open(key)
        .ok()?
        .get_string(value)
        .ok()
}

/// Whether a service (or driver) of this name is installed.
pub fn service_installed(name: &str) -> bool {
    windows_registry::LOCAL_MACHINE
        .open(format!(r"SYSTEM\CurrentControlSet\Services\{name}"))
        .is_ok()
}

/// Gives `path` a protected ACL that grants the current user full control
/// and nobody else anything (inherited by what is created inside).
pub fn restrict_to_owner(path: &Path) -> io::Result<()> {
    let user = current_user()?;
    // SAFETY: `user` starts with a TOKEN_USER the OS wrote (u64-aligned).
    let sid = unsafe { (*user.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    let access = EXPLICIT_ACCESS_W {
        grfAccessPermissions: GENERIC_ALL,
        grfAccessMode: SET_ACCESS,
        grfInheritance: SUB_CONTAINERS_AND_OBJECTS_INHERIT,
        Trustee: TRUSTEE_W {
            pMultipleTrustee: ptr::null_mut(),
            MultipleTrusteeOperation: NO_MULTIPLE_TRUSTEE,
            TrusteeForm: TRUSTEE_IS_SID,
            TrusteeType: TRUSTEE_IS_USER,
            ptstrName: sid.cast(),
        },
    };
    let mut acl: *mut ACL = ptr::null_mut();
    // SAFETY: one entry, no old ACL; the OS allocates `acl` (freed below).
    let rc = unsafe { SetEntriesInAclW(1, &access, ptr::null(), &mut acl) };
    if rc != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    let wide_path = nul_terminated(path.as_os_str());
    // SAFETY: `wide_path` is NUL-terminated and `acl` valid; the SID, which
    // `acl` copied, lives in `user` until the end of the function.
    let rc = unsafe {
        SetNamedSecurityInfoW(
            wide_path.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            ptr::null_mut(),
            ptr::null_mut(),
            acl,
            ptr::null(),
        )
    };
    // SAFETY: `acl` was allocated by SetEntriesInAclW with LocalAlloc.
    unsafe { LocalFree(acl.cast()) };
    if rc != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    Ok(())
}

/// The current user's SID as a string (`S-1-5-21-...`).
pub fn current_user_sid() -> io::Result<String> {
    let user = current_user()?;
    // SAFETY: `user` starts with a TOKEN_USER the OS wrote (u64-aligned).
    let sid = unsafe { (*user.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    // SAFETY: `sid` points into `user`, alive here.
    unsafe { sid_string(sid) }
}

/// The SIDs that the access-allowed entries of `path`'s DACL grant any
/// right to, in order (to check that a directory is private).
pub fn dacl_trustees(path: &Path) -> io::Result<Vec<String>> {
    let wide_path = nul_terminated(path.as_os_str());
    let mut dacl: *mut ACL = ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: the path is NUL-terminated; the OS allocates the descriptor
    // (freed below), which `dacl` points into.
    let rc = unsafe {
        GetNamedSecurityInfoW(
            wide_path.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            ptr::null_mut(),
            ptr::null_mut(),
            &mut dacl,
            ptr::null_mut(),
            &mut descriptor,
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    let mut out = Vec::new();
    let mut result = Ok(());
    if !dacl.is_null() {
        // SAFETY: `dacl` points into the live descriptor.
        let count = unsafe { (*dacl).AceCount };
        for i in 0..u32::from(count) {
            let mut ace: *mut core::ffi::c_void = ptr::null_mut();
            // SAFETY: `i` is below the ACL's count.
            if unsafe { GetAce(dacl, i, &mut ace) } == 0 {
                result = Err(io::Error::last_os_error());
                break;
            }
            let ace = ace.cast::<ACCESS_ALLOWED_ACE>();
            // SAFETY: every ACE starts with its header.
            // SAFETY: as above; an allowed ACE has its mask after the header.
            if unsafe { (*ace).Header.AceType != 0 || (*ace).Mask == 0 } {
                continue; // not ACCESS_ALLOWED_ACE_TYPE, or no right at all
            }
            // SAFETY: an allowed ACE's SID starts at SidStart.
            let sid = unsafe { ptr::addr_of_mut!((*ace).SidStart) }.cast();
            // SAFETY: as above; the SID lives in the descriptor.
            match unsafe { sid_string(sid) } {
                Ok(s) => out.push(s),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
    }
    // SAFETY: allocated by GetNamedSecurityInfoW with LocalAlloc.
    unsafe { LocalFree(descriptor.cast()) };
    result.map(|()| out)
}

/// A SID as a string.
///
/// # Safety
/// `sid` points to a valid SID.
unsafe fn sid_string(sid: PSID) -> io::Result<String> {
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: the caller promises a valid SID; the OS allocates `text`.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `text` is NUL-terminated.
    let s = unsafe { wide(text) };
    // SAFETY: allocated by ConvertSidToStringSidW with LocalAlloc.
    unsafe { LocalFree(text.cast()) };
    Ok(s)
}

/// The process token's user: a TOKEN_USER and the SID it points to.
fn current_user() -> io::Result<Vec<u64>> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: the pseudo-handle of the current process needs no closing.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let user = token_user(token);
    // SAFETY: `token` is a handle this function opened.
    unsafe { CloseHandle(token) };
    user
}

/// The token's user (a TOKEN_USER and the SID it points to), in a
/// u64-aligned buffer.
fn token_user(token: HANDLE) -> io::Result<Vec<u64>> {
    let mut size = 0u32;
    // SAFETY: a null buffer asks for the size.
    unsafe { GetTokenInformation(token, TokenUser, ptr::null_mut(), 0, &mut size) };
    if size == 0 || size > 4096 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u64; (size as usize).div_ceil(8)];
    // SAFETY: `buf` holds at least `size` writable bytes.
    let ok =
        unsafe { GetTokenInformation(token, TokenUser, buf.as_mut_ptr().cast(), size, &mut size) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(buf)
}

/// Replaces `to` with `from` and returns only once the change is on disk
/// (`MOVEFILE_WRITE_THROUGH`). Fails with `PermissionDenied` while another
/// program holds `to` open without sharing deletion.
pub fn replace_durably(from: &Path, to: &Path) -> io::Result<()> {
    let from = nul_terminated(from.as_os_str());
    let to = nul_terminated(to.as_os_str());
    // SAFETY: both paths are NUL-terminated UTF-16.
    let ok = unsafe {
        MoveFileExW(
            from.as_ptr(),
            to.as_ptr(),
            MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn nul_terminated(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(Some(0)).collect()
}

fn until_nul(buf: &[u16]) -> String {
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    OsString::from_wide(&buf[..end])
        .to_string_lossy()
        .into_owned()
}

/// Reads a NUL-terminated UTF-16 string of at most 4096 units.
///
/// # Safety
/// `p` is null or points to a NUL-terminated UTF-16 string.
unsafe fn wide(p: *const u16) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut len = 0usize;
    // SAFETY: the caller promises a NUL within the string.
    while len < 4096 && unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` units were just read.
    let units = unsafe { std::slice::from_raw_parts(p, len) };
    String::from_utf16_lossy(units)
}

/// Reads a NUL-terminated byte string of at most 4096 bytes.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string.
unsafe fn ansi(p: *const u8) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut len = 0usize;
    // SAFETY: the caller promises a NUL within the string.
    while len < 4096 && unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` bytes were just read.
    let bytes = unsafe { std::slice::from_raw_parts(p, len) };
    String::from_utf8_lossy(bytes).into_owned()
}
