#include "serverclass/hardware_schema.hpp"

namespace ironboot::hardware_schema {

namespace {

const std::vector<Field> kSystem = {
    {"uuid", Kind::string},         {"manufacturer", Kind::string}, {"productName", Kind::string},
    {"version", Kind::string},      {"serialNumber", Kind::string}, {"skuNumber", Kind::string},
    {"family", Kind::string}};
const std::vector<Field> kProcessor = {
    {"manufacturer", Kind::string}, {"productName", Kind::string}, {"serialNumber", Kind::string},
    {"speed", Kind::integer},       {"coreCount", Kind::integer},  {"threadCount", Kind::integer}};
const std::vector<Field> kCompute = {{"totalCoreCount", Kind::integer},
                                     {"totalThreadCount", Kind::integer},
                                     {"processorCount", Kind::integer},
                                     {"processors", Kind::object_list, &kProcessor}};
const std::vector<Field> kModule = {
    {"manufacturer", Kind::string}, {"productName", Kind::string}, {"serialNumber", Kind::string},
    {"type", Kind::string},         {"size", Kind::integer},       {"speed", Kind::integer}};
const std::vector<Field> kMemory = {{"totalSize", Kind::string},
                                    {"moduleCount", Kind::integer},
                                    {"modules", Kind::object_list, &kModule}};
const std::vector<Field> kDevice = {
    {"type", Kind::string},         {"size", Kind::integer}, {"productName", Kind::string},
    {"serialNumber", Kind::string}, {"name", Kind::string},  {"deviceName", Kind::string},
    {"uuid", Kind::string},         {"wwid", Kind::string}};
const std::vector<Field> kStorage = {{"totalSize", Kind::string},
                                     {"deviceCount", Kind::integer},
                                     {"devices", Kind::object_list, &kDevice}};
const std::vector<Field> kInterface = {{"index", Kind::integer}, {"name", Kind::string},
                                       {"flags", Kind::string},  {"mtu", Kind::integer},
                                       {"mac", Kind::string},    {"addresses", Kind::string_list}};
const std::vector<Field> kNetwork = {{"interfaceCount", Kind::integer},
                                     {"interfaces", Kind::object_list, &kInterface}};
const std::vector<Field> kHardware = {{"system", Kind::object, &kSystem},
                                      {"compute", Kind::object, &kCompute},
                                      {"memory", Kind::object, &kMemory},
                                      {"storage", Kind::object, &kStorage},
                                      {"network", Kind::object, &kNetwork}};

}  // namespace

const std::vector<Field>& hardware_fields() { return kHardware; }

}  // namespace ironboot::hardware_schema
