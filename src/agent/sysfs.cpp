#include "agent/sysfs.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <utility>

#include "common/text.hpp"

namespace ironboot::agent::sysfs {
namespace {

// Space, tab, LF and CR at both ends, and NUL too at the end (VPD pages and firmware
// strings are NUL-padded); not \v or \f, and not a leading NUL.
std::string_view trim_value(std::string_view s) {
  constexpr std::string_view blank = " \t\n\r";
  constexpr std::string_view blank_or_nul{" \t\n\r\0", 5};
  return ironboot::trim(s.substr(0, s.find_last_not_of(blank_or_nul) + 1), blank);  // npos + 1 == 0
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : trim_value(s)) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
  }
  return out;
}

}  // namespace

std::optional<std::uint64_t> parse_uint(std::string_view text, int base) {
  text = trim_value(text);
  if (base == 16 && text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
  if (text.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

CpuInfo parse_cpuinfo(std::string_view text) {
  CpuInfo info;
  std::set<std::string> packages;
  std::set<std::pair<std::string, std::string>> cores;
  std::string physical_id, core_id;
  bool in_entry = false;
  auto end_entry = [&] {
    if (!in_entry) return;
    ++info.counts.threads;
    packages.insert(physical_id);
    cores.insert({physical_id, core_id.empty() ? std::to_string(info.counts.threads) : core_id});
    physical_id.clear();
    core_id.clear();
    in_entry = false;
  };
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      if (trim_value(line).empty()) end_entry();
      continue;
    }
    auto key = trim_value(line.substr(0, colon));
    auto value = trim_value(line.substr(colon + 1));
    if (key == "processor") {
      end_entry();
      in_entry = true;
    } else if (key == "physical id") {
      physical_id = value;
    } else if (key == "core id") {
      core_id = value;
    } else if (key == "vendor_id" && info.vendor.empty()) {
      info.vendor = value == "GenuineIntel" ? "Intel" : value == "AuthenticAMD" ? "AMD" : printable(value);
    } else if (key == "model name" && info.model_name.empty()) {
      info.model_name = printable(value);
    } else if (key == "cpu MHz" && info.mhz == 0) {
      auto dot = value.find('.');
      if (auto v = parse_uint(value.substr(0, dot))) info.mhz = static_cast<std::uint32_t>(std::min<std::uint64_t>(*v, 1u << 30));
    }
  }
  end_entry();
  info.counts.sockets = static_cast<std::uint32_t>(packages.size());
  info.counts.cores = static_cast<std::uint32_t>(cores.size());
  return info;
}

CpuCounts count_topology(const std::vector<CpuTopology>& cpus) {
  std::set<int> packages;
  std::set<std::pair<int, int>> cores;
  for (const auto& c : cpus) {
    packages.insert(c.package);
    cores.insert({c.package, c.core});
  }
  return {static_cast<std::uint32_t>(packages.size()), static_cast<std::uint32_t>(cores.size()),
          static_cast<std::uint32_t>(cpus.size())};
}

std::optional<std::uint32_t> count_cpu_list(std::string_view list) {
  list = trim_value(list);
  if (list.empty()) return std::nullopt;
  std::uint64_t total = 0;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    auto dash = item.find('-');
    auto lo = parse_uint(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : parse_uint(item.substr(dash + 1));
    if (!lo || !hi || *hi < *lo || *hi - *lo > 65536) return std::nullopt;
    total += *hi - *lo + 1;
    if (total > 1u << 20) return std::nullopt;
  }
  return static_cast<std::uint32_t>(total);
}

std::optional<std::uint64_t> parse_meminfo_total_mb(std::string_view text) {
  auto at = text.find("MemTotal:");
  if (at == std::string_view::npos) return std::nullopt;
  auto rest = text.substr(at + 9);
  rest = rest.substr(0, rest.find('\n'));
  rest = trim_value(rest);
  if (rest.size() < 3 || rest.substr(rest.size() - 2) != "kB") return std::nullopt;
  auto kb = parse_uint(rest.substr(0, rest.size() - 2));
  if (!kb) return std::nullopt;
  return *kb / 1024;
}

bool is_virtual_block(std::string_view name) {
  for (std::string_view prefix : {"loop", "ram", "zram", "dm-", "nbd", "md", "fd"})
    if (name.substr(0, prefix.size()) == prefix) return true;
  return false;
}

BlockTransport classify_block_transport(std::string_view name, std::string_view path,
                                        std::string_view nvme_transport) {
  static constexpr std::pair<std::string_view, std::string_view> virtual_prefixes[] = {
      {"loop", "loop"}, {"zram", "zram"}, {"ram", "ram"}, {"dm-", "dm"}, {"md", "md"},
      {"nbd", "nbd"},   {"rbd", "rbd"},   {"fd", "fd"}};
  for (auto [prefix, kind] : virtual_prefixes)
    if (name.substr(0, prefix.size()) == prefix) return {std::string(kind), false};
  // Path segments, outermost first; the first that names a bus decides.
  std::vector<std::string_view> segments;
  for (std::size_t at = 0; at <= path.size();) {
    auto slash = path.find('/', at);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > at) segments.push_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  auto starts = [](std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; };
  auto nvme = [&]() -> BlockTransport {
    std::string t(trim_value(nvme_transport));
    if (t.empty() || t == "pcie") return {"nvme", true};
    return {"nvme-" + t, false};
  };
  bool has_host = false, under_virtual = false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    auto s = segments[i];
    if (s == "virtual" && i > 0 && segments[i - 1] == "devices") under_virtual = true;
    if (s == "nvme-fabrics") {
      std::string t(trim_value(nvme_transport));
      return {"nvme-" + (t.empty() || t == "pcie" ? std::string("fabrics") : t), false};
    }
    if (s == "nvme-subsystem" || s == "nvme") return nvme();
    if (starts(s, "usb")) return {"usb", false};
    if (starts(s, "rport-") || starts(s, "fc_")) return {"fc", false};
    if (starts(s, "session") && has_host) return {"iscsi", false};
    if (starts(s, "virtio")) return {"virtio", true};
    if (starts(s, "ata") && s.size() > 3 && std::isdigit(static_cast<unsigned char>(s[3]))) return {"ata", true};
    if (s == "mmc_host") return {"mmc", true};
    if (starts(s, "host") && s.size() > 4 && std::isdigit(static_cast<unsigned char>(s[4]))) has_host = true;
    if (starts(s, "target") && has_host && !under_virtual) return {"scsi", true};
  }
  if (under_virtual) return {"virtual", false};
  return {"unknown", false};
}

std::optional<Disk> make_disk(const BlockAttrs& a) {
  auto sectors = parse_uint(a.size);
  if (!sectors || *sectors > (std::uint64_t{1} << 54)) return std::nullopt;
  Disk d;
  d.name = a.name;
  d.device_name = "/dev/" + a.name;
  d.size_bytes = *sectors * 512;  // sysfs size is always in 512-byte units
  d.removable = trim_value(a.removable) == "1";
  d.read_only = trim_value(a.read_only) == "1";
  std::string model = printable(a.model);
  std::string vendor = printable(a.vendor);
  // SCSI vendor strings prefix the model; "ATA" carries no information, and virtio
  // exposes its PCI vendor id ("0x1af4") there.
  bool useful_vendor = !vendor.empty() && vendor != "ATA" && vendor.rfind("0x", 0) != 0 &&
                       model.find(vendor) == std::string::npos;
  d.product_name = useful_vendor && !model.empty() ? vendor + " " + model : useful_vendor ? vendor : model;
  d.serial_number = printable(a.serial);
  d.wwid = printable(a.wwid);
  if (a.name.rfind("nvme", 0) == 0) {
    d.type = "NVMe";
  } else if (a.name.rfind("sr", 0) == 0 || trim_value(a.scsi_type) == "5") {
    d.type = "CD";
  } else if (trim_value(a.rotational) == "1") {
    d.type = "HDD";
  } else if (trim_value(a.rotational) == "0") {
    d.type = "SSD";
  } else {
    d.type = "Unknown";
  }
  return d;
}

std::string vpd80_serial(std::string_view page) {
  // Header: peripheral byte, page code 0x80, 16-bit big-endian page length.
  if (page.size() < 4 || static_cast<unsigned char>(page[1]) != 0x80) return "";
  std::size_t len = (static_cast<unsigned char>(page[2]) << 8) | static_cast<unsigned char>(page[3]);
  if (len > page.size() - 4) len = page.size() - 4;
  return printable(page.substr(4, len));
}

std::string format_net_flags(std::uint32_t flags, bool running) {
  static constexpr std::pair<std::uint32_t, const char*> names[] = {
      {0x1, "up"}, {0x2, "broadcast"}, {0x8, "loopback"}, {0x10, "pointtopoint"}, {0x1000, "multicast"}};
  std::string out;
  for (auto [bit, name] : names) {
    if (flags & bit) {
      if (!out.empty()) out += '|';
      out += name;
    }
  }
  if (running && (flags & 0x1)) out += out.empty() ? "running" : "|running";
  return out;
}

std::string hex_id(std::string_view text) {
  text = trim_value(text);
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
  std::string out;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return "";
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::string pci_vendor_name(std::string_view vendor) {
  static constexpr std::pair<std::string_view, std::string_view> vendors[] = {
      {"1000", "Broadcom / LSI"},
      {"1002", "Advanced Micro Devices, Inc. [AMD/ATI]"},
      {"1022", "Advanced Micro Devices, Inc. [AMD]"},
      {"102b", "Matrox Electronics Systems Ltd."},
      {"1077", "QLogic Corp."},
      {"10de", "NVIDIA Corporation"},
      {"10ec", "Realtek Semiconductor Co., Ltd."},
      {"1234", "QEMU"},
      {"14e4", "Broadcom Inc."},
      {"15ad", "VMware"},
      {"15b3", "Mellanox Technologies"},
      {"19e5", "Huawei Technologies Co., Ltd."},
      {"1a03", "ASPEED Technology, Inc."},
      {"1af4", "Red Hat, Inc."},
      {"1b36", "Red Hat, Inc."},
      {"1d0f", "Amazon.com, Inc."},
      {"8086", "Intel Corporation"},
  };
  std::string id = hex_id(vendor);
  for (auto [v, name] : vendors)
    if (v == id) return std::string(name);
  return "";
}

std::string pci_description(std::string_view vendor, std::string_view class_code) {
  std::string cls = hex_id(class_code);
  if (cls.size() != 6) return "";
  std::string_view base = std::string_view(cls).substr(0, 2), sub = std::string_view(cls).substr(0, 4);
  static constexpr std::pair<std::string_view, std::string_view> subclasses[] = {
      {"0100", "SCSI storage controller"}, {"0101", "IDE interface"},
      {"0104", "RAID bus controller"},     {"0106", "SATA controller"},
      {"0107", "Serial Attached SCSI controller"}, {"0108", "Non-Volatile memory controller"},
      {"0200", "Ethernet controller"},     {"0207", "Infiniband controller"},
      {"0280", "Network controller"},      {"0300", "VGA compatible controller"},
      {"0302", "3D controller"},           {"0380", "Display controller"},
      {"0403", "Audio device"},            {"0600", "Host bridge"},
      {"0601", "ISA bridge"},              {"0604", "PCI bridge"},
      {"0700", "Serial controller"},       {"0c03", "USB controller"},
      {"0c05", "SMBus"},                   {"0c04", "Fibre Channel"},
      {"1200", "Processing accelerators"},
  };
  static constexpr std::pair<std::string_view, std::string_view> classes[] = {
      {"00", "Unclassified device"}, {"01", "Mass storage controller"}, {"02", "Network controller"},
      {"03", "Display controller"},  {"04", "Multimedia controller"},   {"05", "Memory controller"},
      {"06", "Bridge"},              {"07", "Communication controller"}, {"08", "Generic system peripheral"},
      {"0c", "Serial bus controller"}, {"12", "Processing accelerators"},
  };
  std::string desc;
  for (auto [k, name] : subclasses)
    if (k == sub) desc = name;
  if (desc.empty())
    for (auto [k, name] : classes)
      if (k == base) desc = name;
  if (base == "03" || base == "12") {  // name GPUs and accelerators by vendor
    std::string v = pci_vendor_name(vendor);
    if (!v.empty()) desc = v + " " + (desc.empty() ? "device" : desc);
  }
  return desc;
}

}  // namespace ironboot::agent::sysfs
