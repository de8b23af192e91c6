// Boost.JSON and Boost.URL compiled into the agent from their headers, so the static
// ironboot-agent needs no Boost libraries at link time.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
